"""Which engine reads a document: its input kind, decided once after loading, picks the route
(`[engine.routes]`; the kinds and how a route's table reads are `config.py`'s).

The kind comes from what loading already knows (the media type, each PDF page's text layer) and
from the e-invoice XML a PDF carries, read before any page is rasterized.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ledgerlens.pipeline.check.einvoice import EInvoice
from ledgerlens.pipeline.config import EngineConfig
from ledgerlens.pipeline.read.load import XML
from ledgerlens.pipeline.types import Document

PDF = "application/pdf"
ROUTE_STAGE = "route"  # the stage that decides it: a runner sees the route it returns


@dataclass(frozen=True)
class Route:
    name: str  # the input kind whose [engine.routes] table reads the document, or DEFAULT_ROUTE
    kind: str  # the document's input kind

    def describe(self, engine: dict[str, Any]) -> dict[str, Any]:
        """What provenance says of the route: its name, the kind, and the engine and model that read."""
        return {"name": self.name, "kind": self.kind, "engine": engine.get("engine"), "model": engine.get("model")}


def route_label(route: dict[str, Any]) -> str:
    """ "born_digital: transformers nuextract-1.5-tiny": a result's provenance["route"] in words
    (`show`, `eval` and the review screen say it so)."""
    model = f" {route['model']}" if route.get("model") else ""
    return f"{route.get('name')}: {route.get('engine')}{model}"


def input_kind(doc: Document, einvoice: EInvoice | None) -> str:
    """`einvoice` for XML and for a PDF whose invoice XML could be read (a broken one leaves the
    page to be read: the kind of its pages decides); `born_digital` for a PDF with a text layer
    on every page; `scanned` for images and PDFs with a page that must be read from its image."""
    if doc.media_type == XML or (einvoice is not None and einvoice.fields is not None):
        return "einvoice"
    if doc.media_type == PDF and doc.pages and all(p.text_source == "text_layer" for p in doc.pages):
        return "born_digital"
    return "scanned"


def route_for(doc: Document, einvoice: EInvoice | None, engine: EngineConfig) -> Route:
    kind = input_kind(doc, einvoice)
    return Route(engine.route_of(kind), kind)
