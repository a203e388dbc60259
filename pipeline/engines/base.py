"""The engine contract: page words/images + a schema in, data with per-field evidence out.

An engine knows nothing of business rules, stores or Prefect. Inside an engine keep three steps
apart: prepare inputs, call the model, decode.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from ledgerlens.pipeline.doctypes.schemas import DocumentSchema
from ledgerlens.pipeline.types import EngineOutput, Page


@runtime_checkable
class Engine(Protocol):
    name: str
    # True when the engine reads page images (a vision model): every page is rasterized for it.
    needs_images: bool

    def extract(
        self,
        pages: list[Page],
        doc_type: str,
        schema: DocumentSchema,
        prompt: str | None = None,
        hints: dict[str, Any] | None = None,
    ) -> EngineOutput: ...

    def describe(self) -> dict[str, Any]:
        """What provenance records about this engine: name, version, model id, options."""
        ...
