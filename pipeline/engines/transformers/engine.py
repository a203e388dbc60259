"""The `transformers` engine: a local model reads the pages and writes JSON that the document
schema's grammar holds it to. A vision model (`kind = "vision"`) reads the page images (and, with
`words = true`, the pages' layout text beside them); a text model (`kind = "text"`: NuExtract 1.5,
any causal LM) reads the layout text only, in chunks that fit its context, merged like the
readings of several page images.

Per document: choose the LoRA adapter (vendor on the page, else document type, else default),
prepare the page images or text and the conversation, call the model, decode. Decoded data goes through
the pipeline's own parse and validation checks; errors are put to the model again (a bounded
re-ask). Amounts, dates and ids are then grounded on the page words; ungrounded values become
review issues. The model and adapters are loaded once per process.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, cast

from ledgerlens.pipeline.config import Config
from ledgerlens.pipeline.doctypes.schemas import DocumentSchema
from ledgerlens.pipeline.engines.base import AnswerChecks, ModelGate
from ledgerlens.pipeline.engines.model.constrain import model_schema
from ledgerlens.pipeline.engines.model.decode import Generation, field_confidence
from ledgerlens.pipeline.engines.model.images import page_image, visual_tokens
from ledgerlens.pipeline.engines.model.prompts import Conversation, PromptVersion, load_prompt, start
from ledgerlens.pipeline.engines.model.reading import Reading, read_with_reasks, reading_output
from ledgerlens.pipeline.engines.transformers.adapters import Adapter, AdapterRules, AdapterSet, check_folder
from ledgerlens.pipeline.engines.transformers.generate import Generator
from ledgerlens.pipeline.engines.transformers.inputs import chat_prompt
from ledgerlens.pipeline.engines.transformers.loading import LoadedModel, load, require_extra
from ledgerlens.pipeline.engines.transformers.options import TransformersOptions
from ledgerlens.pipeline.engines.transformers.quantize import quantize_dynamic_int8
from ledgerlens.pipeline.engines.transformers.registry import ResolvedModel, resolve_model
from ledgerlens.pipeline.errors import ConfigError
from ledgerlens.pipeline.machine import has_nvidia_gpu, hostname
from ledgerlens.pipeline.read.pagetext import TextChunk, chunk_pages, render_pages
from ledgerlens.pipeline.types import Document, EngineOutput, Page

DEFAULT_PROMPT = "extract-v1"
DEFAULT_TEXT_PROMPT = "extract-text-v1"  # a text model not in the registry: any chat causal LM
PROMPT_ALLOWANCE = 1500  # tokens for the instruction, the field list and the chat markup
MIN_TEXT_BUDGET = 256  # tokens of page text per conversation, whatever the context left says

# (model folder, load options, adapter folders) -> the loaded model with its adapters: once per process.
_LOADED: dict[tuple[Any, ...], tuple[LoadedModel, AdapterSet]] = {}


def image_factor(processor: Any) -> int:
    """Page sides are multiples of this (patch size x merge size: 28 for Qwen2/2.5-VL)."""
    image_processor = processor.image_processor
    patch = int(getattr(image_processor, "patch_size", 14) or 14)
    return patch * int(getattr(image_processor, "merge_size", 2) or 2)


def plan_conversations(
    images: list[Any], factor: int, options: TransformersOptions, resolved: ResolvedModel
) -> list[list[int]]:
    """All pages in one conversation when they fit the context, else one conversation per page
    (training learns from the documents that are read in one conversation)."""
    limit = options.max_context_tokens or (resolved.entry.context_tokens if resolved.entry else 32768)
    answers = options.max_new_tokens * (1 + options.max_reasks)
    need = sum(visual_tokens(img, factor) for img in images) + PROMPT_ALLOWANCE + answers
    if need <= limit or len(images) == 1:
        return [list(range(len(images)))]
    return [[i] for i in range(len(images))]


def text_chunks(
    processor: Any,
    prompt: PromptVersion,
    resolved: ResolvedModel,
    options: TransformersOptions,
    schema: DocumentSchema,
    pages: list[Page],
) -> list[TextChunk]:
    """A text model's plan: the pages' layout text in chunks that each fit one conversation, the
    context less the prompt around the text and the answers (with their re-asks, which for a
    prompt that is not a chat repeat the text). Training learns from documents read in one chunk."""
    tokenizer = getattr(processor, "tokenizer", processor)

    def count(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    limit = options.max_context_tokens or (resolved.entry.context_tokens if resolved.entry else 32768)
    empty = start(prompt, resolved.family, schema, len(pages), words="", plain=True)
    around = len(tokenizer(chat_prompt(processor, empty))["input_ids"])
    answers = options.max_new_tokens * (1 + options.max_reasks)
    return chunk_pages(pages, max(MIN_TEXT_BUDGET, limit - around - answers), count)


def load_once(
    resolved: ResolvedModel, options: TransformersOptions, folders: list[str]
) -> tuple[LoadedModel, AdapterSet]:
    key = (
        str(resolved.path),
        options.device,
        options.dtype,
        options.quantization,
        options.min_pixels,
        options.max_pixels,
        options.threads,
        tuple(folders),
    )
    if key not in _LOADED:
        loaded = load(resolved, options)
        adapters = AdapterSet(loaded.model, folders, base_path=resolved.path)
        if options.quantization == "int8":  # after the adapters: PEFT cannot wrap quantized layers
            quantize_dynamic_int8(adapters.model)
        _LOADED[key] = (loaded, adapters)
    return _LOADED[key]


def default_prompt(resolved: ResolvedModel) -> str:
    if resolved.entry is not None:
        return resolved.entry.prompt
    return DEFAULT_TEXT_PROMPT if resolved.kind == "text" else DEFAULT_PROMPT


def check_prompt(resolved: ResolvedModel, prompt: PromptVersion) -> None:
    """A text model needs a prompt that carries the text; a vision model one that does not."""
    if (resolved.kind == "text") != prompt.reads_text:
        need = "one that carries the pages' words ({text})" if resolved.kind == "text" else "one for page images"
        raise ConfigError(
            f"prompt version {prompt.version!r} does not suit {resolved.name}, a {resolved.kind} model: it needs {need}"
        )


class TransformersEngine:
    name = "transformers"
    needs_images = True  # per instance: a text model reads words, so pages are rasterized only for OCR

    def __init__(
        self,
        resolved: ResolvedModel,
        options: TransformersOptions,
        prompt: PromptVersion,
        rules: AdapterRules,
        revision: str,
        checks: AnswerChecks,
        loaded: tuple[LoadedModel, AdapterSet] | None = None,
    ) -> None:
        """`loaded`: a model already in memory (training reads its validation documents with the
        model it is training); by default the configured model, loaded once per process."""
        self.checks = checks
        self.resolved = resolved
        self.options = options
        self.prompt = prompt
        self.rules = rules
        self.revision = revision
        self.loaded, self.adapters = loaded or load_once(resolved, options, rules.folders())
        self.generator = Generator(self.loaded, options, prompt.stop)
        self.reads_text = resolved.kind == "text"
        self.needs_images = not self.reads_text
        self.factor = 0 if self.reads_text else image_factor(self.loaded.processor)
        self._describe: dict[str, Any] | None = None

    @classmethod
    def check(cls, config: Config) -> None:
        cls.settings(config)

    @classmethod
    def create(cls, config: Config, checks: AnswerChecks) -> TransformersEngine:
        return cls(*cls.settings(config), checks=checks)

    @classmethod
    def gate(cls, config: Config) -> ModelGate | None:
        """A local GPU generates one document at a time, whichever worker asks; a CPU model is
        not shared between processes (each worker loads its own), so it has no gate."""
        device = str(config.engine.options.get("device", "auto"))
        if device.startswith("cuda") or (device == "auto" and has_nvidia_gpu()):
            return ModelGate.named(f"gpu {hostname()} {device.partition(':')[2] or '0'}", 1)
        return None

    @classmethod
    def default_workers(cls, config: Config) -> int:
        return 1  # the weights are loaded once per worker process: one worker, one model in memory

    @staticmethod
    def settings(config: Config) -> tuple[ResolvedModel, TransformersOptions, PromptVersion, AdapterRules, str]:
        """Everything the configuration decides, checked without loading the model: the extra is
        installed, the model and every adapter folder are on this machine, the options parse."""
        spec = config.engine
        require_extra()
        options = TransformersOptions.parse(spec.options)
        resolved = resolve_model(spec.model, spec.revision)
        prompt = load_prompt(spec.prompt_version or default_prompt(resolved))
        check_prompt(resolved, prompt)
        rules = AdapterRules.parse(spec.adapter, spec.adapters)
        for folder in rules.folders():
            check_folder(Path(folder))
        return resolved, options, prompt, rules, spec.revision

    def read_pages(self, doc: Document) -> list[Page] | None:
        return None  # the chain reads the pages (text layer, OCR)

    def describe(self) -> dict[str, Any]:
        if self._describe is None:
            entry = self.resolved.entry
            self._describe = {
                "engine": self.name,
                "model": self.resolved.name,
                "hub_id": entry.hub_id if entry else None,
                "revision": self.revision or None,
                "model_path": str(self.resolved.path),
                "family": self.resolved.family,
                "kind": self.resolved.kind,
                "reads": "words" if self.reads_text else ("images+words" if self.options.words else "images"),
                "prompt_version": self.prompt.version,
                "device": self.loaded.device,
                "dtype": self.loaded.dtype,
                "quantization": self.loaded.quant_report().to_dict(),
                "constrained": "llguidance json-schema" if self.options.constrained else None,
                "max_pixels": None if self.reads_text else self.options.max_pixels,
                "max_new_tokens": self.options.max_new_tokens,
                "adapters": [a.to_dict() for a in self.adapters.adapters.values()],
                "load_seconds": round(self.loaded.load_seconds, 2),
            }
        return self._describe

    # ---------------------------------------------------------------- the contract

    def extract(
        self,
        pages: list[Page],
        doc_type: str,
        schema: DocumentSchema,
        prompt: str | None = None,
        hints: dict[str, Any] | None = None,
    ) -> EngineOutput:
        started = time.perf_counter()
        adapter = self.adapters.activate(self.rules.choose(doc_type, "\n".join(p.text for p in pages)))
        if self.reads_text:  # the text route: the layout text in chunks that fit the context, one reading each
            chunks = text_chunks(self.loaded.processor, self.prompt, self.resolved, self.options, schema, pages)
            prepared = {"prepare_text": time.perf_counter() - started}
            readings = [self._read_text(chunk, doc_type, schema, adapter) for chunk in chunks]
            document: dict[str, Any] = {
                "text_chunks": [
                    {"pages": [p + 1 for p in c.pages], "tokens": self._count_tokens(c.text)} for c in chunks
                ]
            }
        else:
            images = [page_image(p, self.factor, self.options.min_pixels, self.options.max_pixels) for p in pages]
            prepared = {"prepare_images": time.perf_counter() - started}
            readings = [self._read(chunk, images, pages, doc_type, schema, adapter) for chunk in self._plan(images)]
            document = {"visual_tokens": [visual_tokens(img, self.factor) for img in images]}
        info = dict(self.describe())
        info["document"] = {"adapter": adapter.to_dict() if adapter else None, **document}
        out = reading_output(
            readings,
            schema,
            pages,
            info,
            prepared,
            lambda r: field_confidence(cast(Generation, r.generation)),
            self.checks,
        )
        out.timings["total"] = time.perf_counter() - started
        return out

    # ---------------------------------------------------------------- steps

    def _count_tokens(self, text: str) -> int:
        return len(self.loaded.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _read_text(self, chunk: TextChunk, doc_type: str, schema: DocumentSchema, adapter: Adapter | None) -> Reading:
        conversation = start(self.prompt, self.resolved.family, schema, len(chunk.pages), words=chunk.text, plain=True)
        return self._reading(chunk.pages, conversation, [], doc_type, schema, adapter)

    def _plan(self, images: list[Any]) -> list[list[int]]:
        return plan_conversations(images, self.factor, self.options, self.resolved)

    def _read(
        self,
        chunk: list[int],
        images: list[Any],
        pages: list[Page],
        doc_type: str,
        schema: DocumentSchema,
        adapter: Adapter | None,
    ) -> Reading:
        words = render_pages([pages[i] for i in chunk], len(pages)) if self.options.words else None
        conversation = start(self.prompt, self.resolved.family, schema, len(chunk), words=words)
        return self._reading(chunk, conversation, [images[i] for i in chunk], doc_type, schema, adapter)

    def _reading(
        self,
        chunk: list[int],
        conversation: Conversation,
        images: list[Any],
        doc_type: str,
        schema: DocumentSchema,
        adapter: Adapter | None,
    ) -> Reading:
        grammar = model_schema(schema.bundled()) if self.options.constrained else None

        def ask(conv: Conversation, attempt: int) -> Generation:
            if self.options.temperature > 0:
                self.generator.seed(self.options.seed + attempt)
            inputs = self.generator.prepare(conv, images)
            with self.adapters.base_model_context(adapter):
                return self.generator.generate(inputs, grammar)

        return read_with_reasks(
            chunk,
            conversation,
            ask,
            lambda data: self.checks.problems(data, doc_type, schema),
            self.prompt,
            schema,
            max_reasks=self.options.max_reasks,
            max_new_tokens=self.options.max_new_tokens,
        )
