"""Calling the model: a conversation + page images in, a `Generation` (text, tokens, log-probs) out.

Prepare (chat template + processor: `inputs.model_inputs`, shared with training), call (`generate`
with the grammar and the log-prob recorder as logits processors), and nothing more:
decoding the JSON is `decode.py`'s job.
"""

from __future__ import annotations

import time
from typing import Any

from ledgerlens.pipeline.engines.model.constrain import JsonGrammar
from ledgerlens.pipeline.engines.model.decode import Generation, LogprobRecorder
from ledgerlens.pipeline.engines.model.prompts import Conversation
from ledgerlens.pipeline.engines.transformers.inputs import model_inputs
from ledgerlens.pipeline.engines.transformers.loading import DOCTOR_ADVICE, LoadedModel, is_out_of_memory
from ledgerlens.pipeline.engines.transformers.options import TransformersOptions
from ledgerlens.pipeline.errors import DocumentError


class Generator:
    def __init__(self, loaded: LoadedModel, options: TransformersOptions, stop: tuple[str, ...] = ()) -> None:
        """`stop`: tokens that also end an answer (a prompt format's own end marker), where the
        tokenizer has them."""
        self.loaded = loaded
        self.options = options
        config = loaded.model.config
        text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
        self.vocab_size = int(text_config.vocab_size)
        eos = loaded.model.generation_config.eos_token_id
        self.eos_ids = [eos] if isinstance(eos, int) else list(eos or [loaded.tokenizer.eos_token_id])
        vocab = loaded.tokenizer.get_vocab() if stop else {}
        self.eos_ids += [vocab[t] for t in stop if t in vocab and vocab[t] not in self.eos_ids]
        self.pad_id = loaded.model.generation_config.pad_token_id or loaded.tokenizer.pad_token_id
        self._grammar: JsonGrammar | None = None

    @property
    def grammar(self) -> JsonGrammar:
        if self._grammar is None:  # the tokenizer's grammar tables take ~1 s to build: once per process
            self._grammar = JsonGrammar(self.loaded.tokenizer, self.vocab_size, self.eos_ids)
        return self._grammar

    def prepare(self, conversation: Conversation, images: list[Any]) -> Any:
        """The model's inputs, built as training builds them (`inputs.model_inputs`), on the model's device."""
        return model_inputs(self.loaded.processor, conversation, images).to(self.loaded.device)

    def generate(self, inputs: Any, schema: dict[str, Any] | None) -> Generation:
        """Greedy (or sampled, temperature > 0) decoding; constrained to `schema` when one is given."""
        import torch
        from transformers import LogitsProcessorList

        prompt_len = int(inputs["input_ids"].shape[1])
        budget = self.options.max_new_tokens
        recorder = LogprobRecorder(prompt_len)
        processors: list[Any] = [recorder]
        guide = self.grammar.processor(schema, prompt_len, budget) if schema is not None else None
        if guide is not None:
            processors.append(guide)
        sampling: dict[str, Any] = {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
        if self.options.temperature > 0:
            sampling = {"do_sample": True, "temperature": self.options.temperature, "top_p": None, "top_k": None}
        started = time.perf_counter()
        try:
            with torch.inference_mode():
                out = self.loaded.model.generate(
                    **inputs,
                    max_new_tokens=budget,
                    logits_processor=LogitsProcessorList(processors),
                    eos_token_id=self.eos_ids,
                    pad_token_id=self.pad_id,
                    repetition_penalty=1.0,  # digits and keys repeat in invoices; a penalty garbles them
                    **sampling,
                )
        except Exception as e:
            if is_out_of_memory(e):
                raise DocumentError(
                    "out_of_memory",
                    f"out of memory while reading the pages on {self.loaded.device}",
                    stage="extract",
                    hint=DOCTOR_ADVICE,
                    transient=True,
                ) from e
            raise
        seconds = time.perf_counter() - started
        sequence = out[0]
        logprobs = recorder.finish(sequence)
        ids = [int(t) for t in sequence[prompt_len:]]
        while ids and ids[-1] in (*self.eos_ids, self.pad_id):
            ids.pop()
        token_bytes = self._token_bytes(ids)
        text = b"".join(token_bytes).decode("utf-8", errors="replace")
        complete = guide.finish(ids) if guide is not None else True
        return Generation(
            text=text,
            token_ids=ids,
            token_bytes=token_bytes,
            logprobs=logprobs[: len(ids)],
            prompt_tokens=prompt_len,
            seconds=seconds,
            complete=complete,
            forced_closing=guide.forced_closing if guide is not None else 0,
        )

    def _token_bytes(self, ids: list[int]) -> list[bytes]:
        lltok = self.grammar.lltok
        return [lltok.decode_bytes([t]) for t in ids]

    def seed(self, value: int) -> None:
        import torch

        torch.manual_seed(value)
