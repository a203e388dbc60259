"""The `transformers` engine: a local vision-language model reads the page images and writes JSON
that the document schema's grammar holds it to.

Per document: choose the LoRA adapter (vendor on the page, else document type, else default),
prepare the page images and the conversation, call the model, decode. Decoded data goes through
the pipeline's own parse and validation checks; errors are put to the model again (a bounded
re-ask). Amounts, dates and ids are then grounded on the page words; ungrounded values become
review issues. The model and adapters are loaded once per process.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ..config import Config
from ..grounding import ground
from ..parse import parse_output
from ..schemas import DocumentSchema
from ..types import EngineOutput, FieldEvidence, Issue, Page, Severity
from ..validate import validate
from ..vlm.adapters import Adapter, AdapterRules, AdapterSet
from ..vlm.constrain import model_schema
from ..vlm.decode import Generation, field_confidence, parse_json
from ..vlm.generate import Generator
from ..vlm.images import page_image, visual_tokens
from ..vlm.loading import LoadedModel, load
from ..vlm.merge import PageReading, merge_readings
from ..vlm.options import TransformersOptions
from ..vlm.prompts import PromptVersion, load_prompt, reask_text, start
from ..vlm.quantize import quantize_dynamic_int8
from ..vlm.registry import ResolvedModel, resolve_model

DEFAULT_PROMPT = "extract-v1"
PROMPT_ALLOWANCE = 1500  # tokens for the instruction, the field list and the chat markup
STAGE = "extract"

# (model folder, load options, adapter folders) -> the loaded model with its adapters: once per process.
_LOADED: dict[tuple[Any, ...], tuple[LoadedModel, AdapterSet]] = {}


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
        adapters = AdapterSet(loaded.model, folders)
        if options.quantization == "int8":  # after the adapters: PEFT cannot wrap quantized layers
            quantize_dynamic_int8(adapters.model)
        _LOADED[key] = (loaded, adapters)
    return _LOADED[key]


@dataclass
class Attempt:
    prompt_tokens: int
    new_tokens: int
    seconds: float
    problems: list[str]
    complete: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "new_tokens": self.new_tokens,
            "seconds": round(self.seconds, 3),
            "problems": self.problems,
            "complete": self.complete,
        }


@dataclass
class Reading:
    pages: list[int]
    data: dict[str, Any]
    generation: Generation
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        return self.attempts[-1].problems if self.attempts else []


class TransformersEngine:
    name = "transformers"
    needs_images = True

    def __init__(
        self,
        resolved: ResolvedModel,
        options: TransformersOptions,
        prompt: PromptVersion,
        rules: AdapterRules,
        revision: str = "",
    ) -> None:
        self.resolved = resolved
        self.options = options
        self.prompt = prompt
        self.rules = rules
        self.revision = revision
        self.loaded, self.adapters = load_once(resolved, options, rules.folders())
        self.generator = Generator(self.loaded, options)
        image_processor = self.loaded.processor.image_processor
        self.factor = int(getattr(image_processor, "patch_size", 14) or 14) * int(
            getattr(image_processor, "merge_size", 2) or 2
        )
        self._describe: dict[str, Any] | None = None

    @classmethod
    def from_config(cls, config: Config) -> TransformersEngine:
        spec = config.engine
        options = TransformersOptions.parse(spec.options)
        resolved = resolve_model(spec.model, spec.revision)
        version = spec.prompt_version or (resolved.entry.prompt if resolved.entry else DEFAULT_PROMPT)
        rules = AdapterRules.parse(spec.adapter, spec.adapters)
        return cls(resolved, options, load_prompt(version), rules, spec.revision)

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
                "prompt_version": self.prompt.version,
                "device": self.loaded.device,
                "dtype": self.loaded.dtype,
                "quantization": self.loaded.quant_report().to_dict(),
                "constrained": "llguidance json-schema" if self.options.constrained else None,
                "max_pixels": self.options.max_pixels,
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
        images = [page_image(p, self.factor, self.options.min_pixels, self.options.max_pixels) for p in pages]
        prepared = time.perf_counter()
        readings = [self._read(chunk, images, doc_type, schema, adapter) for chunk in self._plan(images)]
        merged = merge_readings(
            [PageReading(r.pages, r.data, field_confidence(r.generation)) for r in readings], schema.field_kinds
        )
        evidence, issues = self._evidence(merged.data, merged.confidence, merged.page, schema, pages)
        issues += self._reading_issues(readings)
        attempts = [a for r in readings for a in r.attempts]
        info = dict(self.describe())
        info["document"] = {
            "adapter": adapter.to_dict() if adapter else None,
            "conversations": [[p + 1 for p in r.pages] for r in readings],
            "attempts": [a.to_dict() for a in attempts],
            "prompt_tokens": sum(a.prompt_tokens for a in attempts),
            "new_tokens": sum(a.new_tokens for a in attempts),
            "visual_tokens": [visual_tokens(img, self.factor) for img in images],
        }
        generate_s = sum(a.seconds for a in attempts)
        return EngineOutput(
            raw_text="\n".join(r.generation.text for r in readings),
            data=merged.data,
            field_evidence=evidence,
            model_info=info,
            timings={
                "prepare_images": prepared - started,
                "generate": generate_s,
                "total": time.perf_counter() - started,
            },
            token_logprobs=[lp for r in readings for lp in r.generation.logprobs],
            issues=issues,
        )

    # ---------------------------------------------------------------- steps

    def _plan(self, images: list[Any]) -> list[list[int]]:
        """All pages in one conversation when they fit the context, else one conversation per page."""
        limit = self.options.max_context_tokens or (
            self.resolved.entry.context_tokens if self.resolved.entry else 32768
        )
        answers = self.options.max_new_tokens * (1 + self.options.max_reasks)
        need = sum(visual_tokens(img, self.factor) for img in images) + PROMPT_ALLOWANCE + answers
        if need <= limit or len(images) == 1:
            return [list(range(len(images)))]
        return [[i] for i in range(len(images))]

    def _read(
        self, chunk: list[int], images: list[Any], doc_type: str, schema: DocumentSchema, adapter: Adapter | None
    ) -> Reading:
        conversation = start(self.prompt, self.resolved.family, schema, len(chunk))
        grammar = model_schema(schema.bundled()) if self.options.constrained else None
        attempts: list[Attempt] = []
        for attempt in range(1 + self.options.max_reasks):
            if self.options.temperature > 0:
                self.generator.seed(self.options.seed + attempt)
            inputs = self.generator.prepare(conversation, [images[i] for i in chunk])
            with self.adapters.base_model_context(adapter):
                gen = self.generator.generate(inputs, grammar)
            data, error = parse_json(gen.text)
            problems = [error] if error else self._problems(data or {}, doc_type, schema)
            if not gen.complete:
                problems.insert(0, f"the answer did not finish within {self.options.max_new_tokens} new tokens")
            attempts.append(Attempt(gen.prompt_tokens, gen.new_tokens, gen.seconds, problems, gen.complete))
            if not problems or attempt == self.options.max_reasks:
                break
            conversation.add_reask(gen.text, reask_text(self.prompt, schema, problems))
        return Reading(chunk, data or {}, gen, attempts)

    @staticmethod
    def _problems(data: dict[str, Any], doc_type: str, schema: DocumentSchema) -> list[str]:
        """What the pipeline's own checks would hold against this answer (errors only, not warnings)."""
        canonical, issues = parse_output(data, schema)
        issues += validate(canonical, doc_type, schema)
        return [i.message for i in issues if i.severity is Severity.ERROR]

    def _evidence(
        self,
        data: dict[str, Any],
        confidence: dict[str, float],
        page_of: dict[str, int | None],
        schema: DocumentSchema,
        pages: list[Page],
    ) -> tuple[dict[str, FieldEvidence], list[Issue]]:
        canonical, _ = parse_output(data, schema)
        found = ground(canonical, schema.field_kinds, pages)
        evidence: dict[str, FieldEvidence] = {}
        for key in data:
            match = found.get(key)
            conf = confidence.get(key, 0.0)
            if match is not None:
                evidence[key] = FieldEvidence(conf, match.page, match.bbox, "model+page", match.text)
            else:
                source = "model (not on page)" if key in found else "model"
                evidence[key] = FieldEvidence(conf, page_of.get(key), None, source, "")
        issues = [
            Issue(
                "ground",
                "not_on_page",
                Severity.WARNING,
                f"{path} = {_value_at(canonical, path)} was read by the model but appears on no page: check it",
                field=path,
            )
            for path, match in found.items()
            if match is None
        ]
        return evidence, issues

    def _reading_issues(self, readings: list[Reading]) -> list[Issue]:
        issues = []
        for r in readings:
            where = r.pages[0] + 1 if len(r.pages) == 1 else None
            last = r.attempts[-1]
            if not last.complete:
                issues.append(Issue(STAGE, "output_truncated", Severity.ERROR, last.problems[0], page=where))
            if len(r.attempts) > 1 and r.problems:
                issues.append(
                    Issue(
                        STAGE,
                        "reask_exhausted",
                        Severity.WARNING,
                        f"{len(r.attempts)} attempts; problems left after the last: {'; '.join(r.problems[:3])}",
                        page=where,
                    )
                )
            if not r.data and r.problems:
                issues.append(Issue(STAGE, "model_output_invalid", Severity.ERROR, r.problems[0], page=where))
        return issues


def _value_at(data: dict[str, Any], path: str) -> Any:
    node: Any = data
    for part in path.replace("]", "").replace("[", ".").split("."):
        node = node[int(part)] if isinstance(node, list) else node.get(part)
    return node
