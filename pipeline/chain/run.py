"""One document through every stage, in one direction:

    load -> einvoice (-> route) -> rasterize -> ocr -> classify -> extract -> parse (-> einvoice) -> validate

The e-invoice XML a PDF carries is read right after loading: with it, the media type and the
text layer decide the document's input kind, and `[engine.routes]` which engine reads it
(`routes.py`; without routes, [engine] reads everything).
An engine that brings its own reading of the pages (the replay engine) takes the place of
rasterize and ocr, and there is no second reading.
An XML e-invoice takes a shorter way: it has no page and no words (the XML is the data), so it
goes load -> einvoice -> parse -> validate, around rasterize, OCR, classify and the engine.

The chain is written once, here (the results it builds besides a read document: `results.py`).
How each stage is *called* is up to the caller: directly (tests, `eval`) or as a Prefect task
(flows/), by passing a `runner`. A `DocumentError` from any stage
ends the document as `failed` with the reason; it never escapes to stop a batch.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledgerlens.pipeline.chain.results import failed_result, provenance, unknown_result
from ledgerlens.pipeline.chain.routes import ROUTE_STAGE, Route, route_for
from ledgerlens.pipeline.check.answers import PIPELINE_CHECKS
from ledgerlens.pipeline.check.einvoice import (
    EInvoice,
    einvoice_data,
    read_einvoice,
    read_einvoice_file,
    reconcile_einvoice,
    without_superseded,
)
from ledgerlens.pipeline.check.parse import parse_output
from ledgerlens.pipeline.check.validate import confidence_issues, validate
from ledgerlens.pipeline.config import DEFAULT_ROUTE, Config
from ledgerlens.pipeline.doctypes.schemas import DocumentSchema, load_schemas
from ledgerlens.pipeline.engines import Engine, check_engine, create_engine
from ledgerlens.pipeline.engines.memory import HINT_KEY as MEMORY_HINT
from ledgerlens.pipeline.engines.memory import NEGATIVE_HINT, VendorMemory
from ledgerlens.pipeline.errors import DocumentError
from ledgerlens.pipeline.read import second as ocr_second
from ledgerlens.pipeline.read.classify import classify
from ledgerlens.pipeline.read.load import XML, load_document
from ledgerlens.pipeline.read.ocr import read_text
from ledgerlens.pipeline.read.rasterize import rasterize
from ledgerlens.pipeline.read.second import reading_quality, till_key_fields, wants_second_reading
from ledgerlens.pipeline.types import (
    UNKNOWN,
    Classification,
    Document,
    DocumentResult,
    EngineOutput,
    Issue,
    Severity,
    status_of,
)

Runner = Callable[..., Any]  # runner(stage_name, fn, *args, **kwargs) -> fn(*args, **kwargs)


def direct(stage: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return fn(*args, **kwargs)


@dataclass
class Context:
    """What every document of a run shares: configuration, schemas, the engines, and the
    workspace's vendor memory when there is one (built by the caller: it lives in the store)."""

    config: Config
    schemas: dict[str, DocumentSchema]
    scratch: Path = field(default_factory=lambda: Path(tempfile.gettempdir()))
    memory: VendorMemory | None = None
    # Route -> its engine, created when the route's first document comes (a model loads once per worker).
    engines: dict[str, Engine] = field(default_factory=dict)

    @classmethod
    def create(
        cls,
        config: Config,
        schemas_dir: Path | None = None,
        scratch: Path | None = None,
        memory: VendorMemory | None = None,
    ) -> Context:
        """The context of a run: the schemas (packaged and the workspace's) and the engine, which
        gets the pipeline's checks of an answer (a model engine re-asks with them). With routes,
        every routed engine is checked now and created when its first document comes."""
        ctx = cls(
            config=config,
            schemas=load_schemas(schemas_dir),
            scratch=scratch or Path(tempfile.gettempdir()),
            memory=memory,
        )
        if ctx.routed:
            check_engine(config)
        else:
            ctx.engine_for(DEFAULT_ROUTE)
        return ctx

    @property
    def routed(self) -> bool:
        return bool(self.config.engine.routes)

    def engine_for(self, route: Route | str | None) -> Engine:
        """The engine of a route (None: [engine]'s), created once."""
        name = route.name if isinstance(route, Route) else route or DEFAULT_ROUTE
        if name not in self.engines:
            self.engines[name] = create_engine(self.config.for_route(name), PIPELINE_CHECKS)
        return self.engines[name]

    def load_engines(self) -> None:
        """Every route's engine now (a pool warming up before it is timed)."""
        for name in self.config.engine.route_names():
            self.engine_for(name)

    def provenance(
        self, doc: Document | None, cls: Classification | None = None, route: Route | None = None
    ) -> dict[str, Any]:
        """Without routes, [engine]'s description; with routes, the route's (and the route itself),
        or no engine for a document that failed before its route was known."""
        name = route.name if route is not None else None if self.routed else DEFAULT_ROUTE
        engine = self.engines.get(name) if name is not None else None
        described = engine.describe() if engine is not None else {"engine": None, "model": None}
        prov = provenance(doc, described, self.config.pipeline.dpi, cls)
        if route is not None:
            prov["route"] = route.describe(described)
        return prov


def require_text(doc: Document) -> Document:
    """A document must carry some text; otherwise it is a photo, a blank page or unreadable."""
    if doc.word_count == 0 or len(doc.text.replace(" ", "").replace("\n", "")) < 10:
        raise DocumentError(
            "no_text",
            "No text was found on any page: this looks like a photo, a blank page or an unreadable scan, "
            "not a document.",
            stage="ocr",
            hint="Check that the right file was scanned; rescan at 200-300 DPI if the text is faint.",
        )
    return doc


def process_file(
    path: Path, ctx: Context, *, source_name: str | None = None, runner: Runner = direct
) -> DocumentResult:
    name = source_name or path.name
    timings: dict[str, float] = {}
    opts = ctx.config.pipeline

    def stage(stage_name: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return runner(stage_name, fn, *args, **kwargs)
        finally:
            timings[stage_name] = timings.get(stage_name, 0.0) + time.perf_counter() - start

    doc: Document | None = None
    route: Route | None = None  # without routes: None, [engine] reads everything
    work_dir = Path(tempfile.mkdtemp(prefix="ledgerlens-", dir=ctx.scratch))
    try:
        doc = stage("load", load_document, path, opts, name)
        einvoice = stage("einvoice", read_einvoice, doc) if doc.media_type != XML else None
        if ctx.routed:  # a stage: a runner sees the route (flows hold its engine's gate)
            route = stage(ROUTE_STAGE, route_for, doc, einvoice, ctx.config.engine)
        if doc.media_type == XML:
            return _xml_einvoice(doc, ctx, stage, timings, route)
        engine = ctx.engine_for(route)
        own_pages = engine.read_pages(doc)
        if own_pages is None:
            doc = stage("rasterize", rasterize, doc, opts, work_dir, all_pages=engine.needs_images)
            doc = stage("ocr", read_text, doc, opts)
        else:
            doc.pages = own_pages
        require_text(doc)
        cls = stage("classify", classify, doc, ctx.schemas)
        if einvoice is not None:
            cls = einvoice.classification(cls)
        if cls.doc_type == UNKNOWN or cls.doc_type not in ctx.schemas:
            result = unknown_result(doc, cls, ctx.provenance(doc, cls, route), timings)
        else:
            result = _extract(doc, cls, ctx, stage, timings, einvoice, route)
        keys = till_key_fields(result, doc, ctx.schemas)
        if einvoice is None and own_pages is None and wants_second_reading(result, doc, opts.second_ocr, keys):
            result = _second_reading(doc, result, ctx, stage, timings, keys, route)
        return result
    except DocumentError as e:
        return failed_result(path, name, e, doc, ctx.provenance(doc, route=route), timings)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


def _second_reading(
    doc: Document,
    first: DocumentResult,
    ctx: Context,
    stage: Runner,
    timings: dict[str, float],
    keys: tuple[str, ...],
    route: Route | None,
) -> DocumentResult:
    again = stage("ocr_second", ocr_second.reread, doc)
    cls = classify(again, ctx.schemas)
    if cls.doc_type == UNKNOWN or cls.doc_type not in ctx.schemas:
        return first
    second = _extract(again, cls, ctx, stage, timings, None, route)
    # The second reader is the better one on such scans: it wins unless it loses a key field.
    keep = second if reading_quality(second, keys) >= reading_quality(first, keys) - 0.75 else first
    keep.provenance["second_reading"] = {
        "engine": ocr_second.ENGINE,
        "used": keep is second,
        "quality": {"first": round(reading_quality(first, keys), 3), "second": round(reading_quality(second, keys), 3)},
    }
    return keep


def _xml_einvoice(
    doc: Document, ctx: Context, stage: Runner, timings: dict[str, float], route: Route | None
) -> DocumentResult:
    """An XML e-invoice: read, mapped and checked from the XML alone (no engine, whatever the route)."""
    einvoice = stage("einvoice", read_einvoice_file, doc)
    cls = einvoice.classification(Classification(UNKNOWN, 0.0, {}))
    if cls.doc_type not in ctx.schemas:
        return unknown_result(doc, cls, ctx.provenance(doc, cls, route), timings)
    schema = ctx.schemas[cls.doc_type]
    data, evidence, issues = stage("parse", einvoice_data, einvoice, schema)
    issues = [*issues, *without_superseded(stage("validate", validate, data, cls.doc_type, schema))]
    model_info = {"engine": "xml", "syntax": einvoice.syntax}
    out = EngineOutput("", einvoice.fields or {}, evidence, model_info)
    return _result(doc, cls, ctx, schema, out, data, issues, timings, einvoice, route)


def _extract(
    doc: Document,
    cls: Classification,
    ctx: Context,
    stage: Runner,
    timings: dict[str, float],
    einvoice: EInvoice | None,
    route: Route | None,
) -> DocumentResult:
    schema = ctx.schemas[cls.doc_type]
    hints: dict[str, Any] = {"sha256": doc.sha256, "source_name": doc.source_name}
    if cls.subtype:
        hints["subtype"] = cls.subtype
    if ctx.memory is not None:
        hints[MEMORY_HINT] = ctx.memory
    if einvoice is not None and str((einvoice.fields or {}).get("total_amount", "")).startswith("-"):
        hints[NEGATIVE_HINT] = True  # an invoice whose XML owes money back: its page reads negative too
    out = stage("extract", ctx.engine_for(route).extract, doc.pages, cls.doc_type, schema, None, hints)
    data, issues = stage("parse", parse_output, out.data, schema, out.field_evidence)
    if einvoice is not None:  # the embedded XML is the data; the page is checked against it
        out, data, issues = stage("einvoice", reconcile_einvoice, einvoice, out, data, issues, schema, doc.text)
    checked = stage("validate", validate, data, cls.doc_type, schema)
    issues += without_superseded(checked) if einvoice is not None and einvoice.fields is not None else checked
    issues += out.issues
    return _result(doc, cls, ctx, schema, out, data, issues, timings, einvoice, route)


def _result(
    doc: Document,
    cls: Classification,
    ctx: Context,
    schema: DocumentSchema,
    out: EngineOutput,
    data: dict[str, Any],
    issues: list[Issue],
    timings: dict[str, float],
    einvoice: EInvoice | None,
    route: Route | None,
) -> DocumentResult:
    confidence = {k: round(ev.confidence, 3) for k, ev in out.field_evidence.items() if k in data}
    issues += confidence_issues(confidence, ctx.config.pipeline.review_confidence)
    prov = ctx.provenance(doc, cls, route)
    prov["engine"] = out.model_info or prov["engine"]  # per document: adapter, attempts, tokens
    if route is not None:
        prov["route"] = route.describe(prov["engine"])
    prov["schema"] = {"doc_type": cls.doc_type, "version": schema.version}
    prov["fields"] = {k: ev.to_dict() for k, ev in out.field_evidence.items() if k in data}
    if out.model_info.get(MEMORY_HINT):  # which vendor's memory read which fields (`ledgerlens show`)
        prov[MEMORY_HINT] = out.model_info[MEMORY_HINT]
    prov["engine_timings"] = {k: round(v, 4) for k, v in out.timings.items()}
    if einvoice is not None:
        prov["einvoice"] = einvoice.describe()
        if doc.media_type == XML:
            prov["einvoice"]["file"] = True  # the XML is the document: its view is kept beside it
    if not data:
        issues.insert(0, Issue("extract", "no_fields", Severity.FATAL, "No field could be read from the document."))
    return DocumentResult(
        sha256=doc.sha256,
        source_name=doc.source_name,
        media_type=doc.media_type,
        page_count=len(doc.pages),
        doc_type=cls.doc_type,
        status=status_of(issues),
        data=data,
        issues=issues,
        confidence=confidence,
        provenance=prov,
        timings=timings,
    )
