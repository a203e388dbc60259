"""The `openai` engine: a model server (vLLM, Ollama, LM Studio, llama.cpp server, or any other
speaking the OpenAI-compatible API) reads the page images and answers in JSON. With
`input = "text"` it sends the pages' layout text instead of images (a text model on the server:
Ollama's nuextract, any chat model), in chunks that fit `context_tokens`; with `words = true` a
vision model gets the layout text beside the images.

Per document: encode the page images (size-bounded data URLs), ask the server in the same
conversation the transformers engine uses (same prompt versions), with the document schema as the
server's structured-output constraint where it has one. The answer goes through the same shared
steps as the transformers engine (`vlm.reading`): parse, the pipeline's checks, bounded re-ask,
merge, per-field confidence from the server's log-probabilities, grounding on the page words.
"""

from __future__ import annotations

import os
import time
from typing import Any, cast
from urllib.parse import urlsplit

from ledgerlens.pipeline.config import Config
from ledgerlens.pipeline.doctypes.schemas import DocumentSchema
from ledgerlens.pipeline.engines.base import AnswerChecks, ModelGate
from ledgerlens.pipeline.engines.model.constrain import model_schema
from ledgerlens.pipeline.engines.model.decode import Generation, field_confidence
from ledgerlens.pipeline.engines.model.prompts import Conversation, PromptVersion, load_prompt, start
from ledgerlens.pipeline.engines.model.reading import Reading, read_with_reasks, reading_output
from ledgerlens.pipeline.engines.openai.client import ServerClient
from ledgerlens.pipeline.engines.openai.dialects import Completion, request_body, request_url
from ledgerlens.pipeline.engines.openai.images import EncodedImage, encode_page
from ledgerlens.pipeline.engines.openai.options import ServerOptions
from ledgerlens.pipeline.errors import ConfigError
from ledgerlens.pipeline.machine import physical_cores
from ledgerlens.pipeline.read.pagetext import TextChunk, approx_tokens, chunk_pages, render_pages
from ledgerlens.pipeline.types import Document, EngineOutput, Page

DEFAULT_PROMPT = "extract-v1"
DEFAULT_TEXT_PROMPT = "extract-text-v1"
FAMILY = "openai"  # chat messages with content parts: text and images
MIN_TEXT_BUDGET = 256  # estimated tokens of page text per request, whatever the context left says


class OpenAIEngine:
    name = "openai"
    needs_images = True

    def __init__(
        self, options: ServerOptions, model: str, prompt: PromptVersion, client: ServerClient, checks: AnswerChecks
    ) -> None:
        self.checks = checks
        self.options = options
        self.model = model
        self.prompt = prompt
        self.client = client
        self.url = request_url(options)
        self.reads_text = options.input == "text"
        self.needs_images = not self.reads_text  # words only: pages are rasterized only for OCR

    @classmethod
    def check(cls, config: Config) -> None:
        cls.settings(config)

    @classmethod
    def gate(cls, config: Config) -> ModelGate | None:
        """Every worker of every machine that talks to one server shares its `concurrency`."""
        options = ServerOptions.parse(config.engine.options)
        parts = urlsplit(options.base_url)
        return ModelGate.named(f"model-server {parts.hostname}:{parts.port or 80}", options.concurrency)

    @classmethod
    def default_workers(cls, config: Config) -> int:
        """Enough workers to keep the server's `concurrency` busy (a worker waits on one document's
        requests at a time), at least one per core, and no more than four per core."""
        options = ServerOptions.parse(config.engine.options)
        cores = physical_cores()
        return min(max(cores, options.concurrency), 4 * cores)

    @staticmethod
    def settings(config: Config) -> tuple[ServerOptions, str, PromptVersion]:
        """What the configuration decides, checked without calling the server."""
        spec = config.engine
        options = ServerOptions.parse(spec.options)
        if not spec.model:
            raise ConfigError(
                "the openai engine needs the model's name on the server: --model NAME or [engine] model = "
                f'"NAME" (e.g. qwen2.5vl:7b on Ollama); it is sent to {options.base_url}'
            )
        if spec.adapter or spec.adapters:
            raise ConfigError("LoRA adapters are loaded by the server itself, not by the openai engine")
        text = options.input == "text"
        prompt = load_prompt(spec.prompt_version or (DEFAULT_TEXT_PROMPT if text else DEFAULT_PROMPT))
        if prompt.reads_text != text:
            need = "one that carries the pages' words ({text})" if text else "one for page images"
            raise ConfigError(
                f'prompt version {prompt.version!r} does not suit input = "{options.input}": it needs {need}'
            )
        return options, spec.model, prompt

    @classmethod
    def create(cls, config: Config, checks: AnswerChecks) -> OpenAIEngine:
        options, model, prompt = cls.settings(config)
        api_key = os.environ.get(options.api_key_env) or None  # read here, at the entry point, once
        return cls(options, model, prompt, ServerClient(options, api_key), checks)

    def read_pages(self, doc: Document) -> list[Page] | None:
        return None  # the chain reads the pages (text layer, OCR)

    def describe(self) -> dict[str, Any]:
        o = self.options
        return {
            "engine": self.name,
            "model": self.model,
            "preset": o.preset or None,
            "base_url": o.base_url,
            "endpoint": self.url,
            "structured_output": o.structured_output,
            "logprobs_requested": o.wants_logprobs,
            "prompt_version": self.prompt.version,
            "reads": "words" if self.reads_text else ("images+words" if o.words else "images"),
            "image_format": None if self.reads_text else o.image_format,
            "max_pixels": None if self.reads_text else o.max_pixels,
            "max_new_tokens": o.max_new_tokens,
            "concurrency": o.concurrency,
            "api_key": f"from ${o.api_key_env}" if self.client.authenticated else None,
        }

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
        constraint = model_schema(schema.bundled())
        retries: list[int] = []  # per request: how many times it had to be sent again
        info = self.describe()
        if self.reads_text:
            chunks = chunk_pages(pages, self._text_budget(schema, len(pages)), approx_tokens)
            prepared = time.perf_counter()
            readings = [self._read_text(chunk, doc_type, schema, constraint, retries) for chunk in chunks]
            info["document"] = {
                "text_chunks": [{"pages": [p + 1 for p in c.pages], "chars": len(c.text)} for c in chunks]
            }
        else:
            images = [encode_page(p, self.options) for p in pages]
            prepared = time.perf_counter()
            plan = self._plan(len(pages))
            readings = [self._read(chunk, images, pages, doc_type, schema, constraint, retries) for chunk in plan]
            info["document"] = {"images": [img.describe() for img in images]}
        info["document"] |= {
            "requests": len(retries),
            "retries": sum(retries),
            "confidence_from": "logprobs" if all(r.generation.logprobs for r in readings) else "default_confidence",
        }
        timings = {"prepare_text" if self.reads_text else "prepare_images": prepared - started}
        out = reading_output(readings, schema, pages, info, timings, self._confidence, self.checks)
        out.timings["total"] = time.perf_counter() - started
        return out

    # ---------------------------------------------------------------- steps

    def _plan(self, n_pages: int) -> list[list[int]]:
        per = self.options.pages_per_request or n_pages
        return [list(range(i, min(i + per, n_pages))) for i in range(0, n_pages, per)]

    def _text_budget(self, schema: DocumentSchema, n_pages: int) -> int:
        """Estimated tokens of page text per request: the context less the prompt and the answers."""
        around = start(self.prompt, FAMILY, schema, n_pages, words="")
        prompt_text = str(around.messages)
        answers = self.options.max_new_tokens * (1 + self.options.max_reasks)
        return max(MIN_TEXT_BUDGET, self.options.context_tokens - approx_tokens(prompt_text) - answers)

    def _read_text(
        self, chunk: TextChunk, doc_type: str, schema: DocumentSchema, constraint: dict[str, Any], retries: list[int]
    ) -> Reading:
        conversation = start(self.prompt, FAMILY, schema, len(chunk.pages), words=chunk.text)
        return self._reading(chunk.pages, conversation, [], doc_type, schema, constraint, retries)

    def _read(
        self,
        chunk: list[int],
        images: list[EncodedImage],
        pages: list[Page],
        doc_type: str,
        schema: DocumentSchema,
        constraint: dict[str, Any],
        retries: list[int],
    ) -> Reading:
        words = render_pages([pages[i] for i in chunk], len(pages)) if self.options.words else None
        conversation = start(self.prompt, FAMILY, schema, len(chunk), words=words)
        return self._reading(chunk, conversation, [images[i] for i in chunk], doc_type, schema, constraint, retries)

    def _reading(
        self,
        chunk: list[int],
        conversation: Conversation,
        sent: list[EncodedImage],
        doc_type: str,
        schema: DocumentSchema,
        constraint: dict[str, Any],
        retries: list[int],
    ) -> Reading:

        def ask(conv: Conversation, attempt: int) -> Completion:
            body = request_body(self.options, self.model, conv, sent, constraint, doc_type)
            answer = self.client.complete(self.url, body)
            retries.append(int(answer.extras.get("retries", 0)))
            return answer

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

    def _confidence(self, reading: Reading) -> dict[str, float]:
        """From the server's log-probabilities; without them, `default_confidence` for every field."""
        if reading.generation.logprobs:
            return field_confidence(cast(Generation, reading.generation))  # a Completion has a Generation's fields
        return {key: self.options.default_confidence for key in reading.data}
