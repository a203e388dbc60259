"""The default engine: no model, no weights. Reads the words the OCR stage (or the PDF text layer)
put on the pages and fills the schema with the layout-aware field finder."""

from __future__ import annotations

import json
import subprocess
import time
from functools import cache
from typing import Any

from ledgerlens.pipeline.config import Config
from ledgerlens.pipeline.doctypes.schemas import DocumentSchema
from ledgerlens.pipeline.engines.base import AnswerChecks, ModelGate
from ledgerlens.pipeline.engines.memory import HINT_KEY, NEGATIVE_HINT
from ledgerlens.pipeline.engines.ocr.finder import find_fields
from ledgerlens.pipeline.errors import ConfigError
from ledgerlens.pipeline.machine import physical_cores
from ledgerlens.pipeline.types import Document, EngineOutput, Page

FINDER_VERSION = "1"


@cache
def tesseract_version() -> str:
    try:
        out = subprocess.run(["tesseract", "--version"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unavailable"
    first = (out.stdout or out.stderr).splitlines()
    return first[0].removeprefix("tesseract ").strip() if first else "unknown"


class OcrEngine:
    name = "ocr"
    needs_images = False

    def __init__(self, languages: tuple[str, ...]) -> None:
        self.languages = languages

    @classmethod
    def check(cls, config: Config) -> None:
        if config.engine.options:
            raise ConfigError(f"the ocr engine takes no [engine.options]; got {', '.join(config.engine.options)}")

    @classmethod
    def create(cls, config: Config, checks: AnswerChecks | None = None) -> OcrEngine:
        cls.check(config)
        return cls(config.pipeline.ocr_languages)

    @classmethod
    def gate(cls, config: Config) -> ModelGate | None:
        return None  # no shared model: each worker reads with its own Tesseract

    @classmethod
    def default_workers(cls, config: Config) -> int:
        return physical_cores()  # Tesseract runs single-threaded in each worker: one per core

    def read_pages(self, doc: Document) -> list[Page] | None:
        return None  # the chain reads the pages (text layer, OCR)

    def describe(self) -> dict[str, Any]:
        return {
            "engine": self.name,
            "model": None,
            "tesseract": tesseract_version(),
            "ocr_languages": list(self.languages),
            "finder_version": FINDER_VERSION,
        }

    def extract(
        self,
        pages: list[Page],
        doc_type: str,
        schema: DocumentSchema,
        prompt: str | None = None,
        hints: dict[str, Any] | None = None,
    ) -> EngineOutput:
        start = time.perf_counter()
        hints = hints or {}
        negative = bool(hints.get(NEGATIVE_HINT))
        found = find_fields(pages, schema, hints.get("subtype"), hints.get(HINT_KEY), negative_totals=negative)
        known = set(schema.field_names())
        data = {k: v for k, v in found.data.items() if k in known}
        evidence = {k: v for k, v in found.evidence.items() if k in known}
        return EngineOutput(
            raw_text=json.dumps(data, ensure_ascii=False, sort_keys=True),
            data=data,
            field_evidence=evidence,
            model_info={**self.describe(), HINT_KEY: found.memory} if found.memory else self.describe(),
            timings={"find_fields": time.perf_counter() - start},
        )
