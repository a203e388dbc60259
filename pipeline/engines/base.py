"""The engine contract: page words/images + a schema in, data with per-field evidence out.

An engine knows nothing of business rules, stores or Prefect. Inside an engine keep three steps
apart: prepare inputs, call the model, decode. Each engine class also owns the facts about it
that the rest of ledgerlens needs, so that nothing outside `engines/` asks which engine it is:

- `check(config)`: the configuration is usable (extra installed, model present, options parse),
  checked without loading a model or calling a server;
- `create(config, checks)`: the engine, ready to extract (a model is loaded here);
- `gate(config)`: the shared model resource its extract stage must hold a slot of, if any;
- `default_workers(config)`: how many documents at once suit it on this machine.

Model engines get the pipeline's checks of an answer (`AnswerChecks`) handed in: they re-ask with
the problems found and ground values on the page words without importing business validation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, runtime_checkable

from ledgerlens.pipeline.config import Config
from ledgerlens.pipeline.doctypes.schemas import DocumentSchema
from ledgerlens.pipeline.types import Document, EngineOutput, Located, Page


@dataclass(frozen=True)
class ModelGate:
    """A Prefect global concurrency limit in front of a shared model (the flows create it)."""

    name: str  # the limit's name
    limit: int  # slots: requests (or generations) at once, across every worker that shares the name

    @staticmethod
    def named(text: str, limit: int) -> ModelGate:
        """`ledgerlens-model-server-127-0-0-1-8000`: a name Prefect's API and CLI take as is."""
        return ModelGate("ledgerlens-" + re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower(), limit)


class AnswerChecks(Protocol):
    """The pipeline's own view of a model's answer, injected into model engines by the chain."""

    def problems(self, data: dict[str, Any], doc_type: str, schema: DocumentSchema) -> list[str]:
        """What the pipeline's checks hold against this answer: error messages to put back to the model."""
        ...

    def locate(
        self, data: dict[str, Any], schema: DocumentSchema, pages: list[Page]
    ) -> tuple[dict[str, Any], dict[str, Located | None]]:
        """The answer in canonical form, and field path -> where its value is printed on the pages
        (None: printed nowhere), for the values that can be looked up (amounts, dates, ids)."""
        ...


@runtime_checkable
class Engine(Protocol):
    name: str
    # True when the engine reads page images (a vision model): every page is rasterized for it.
    needs_images: bool

    def read_pages(self, doc: Document) -> list[Page] | None:
        """The document's pages with their words when the engine brings its own reading (the replay
        engine: the words of a recorded run); None: the chain reads them (PDF text layer, OCR)."""
        ...

    def extract(
        self,
        pages: list[Page],
        doc_type: str,
        schema: DocumentSchema,
        prompt: str | None = None,
        hints: dict[str, Any] | None = None,
    ) -> EngineOutput:
        """`hints`: what the chain knows besides the pages: "sha256" and "source_name" of the
        document, and its "subtype" (a credit note) when the classifier saw one."""
        ...

    def describe(self) -> dict[str, Any]:
        """What provenance records about this engine: name, version, model id, options."""
        ...


class EngineClass(Protocol):
    """What the registry needs of an engine class (the facts above, as class methods)."""

    name: ClassVar[str]

    @classmethod
    def check(cls, config: Config) -> None: ...

    @classmethod
    def create(cls, config: Config, checks: AnswerChecks) -> Engine: ...

    @classmethod
    def gate(cls, config: Config) -> ModelGate | None: ...

    @classmethod
    def default_workers(cls, config: Config) -> int: ...
