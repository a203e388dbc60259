"""`eval --learn`: the documents one after another, the vendor memory learning as a team would.

Documents run in file-name order through the same chain as production, with a vendor memory
(a fresh store in a temporary folder, never the user's). After a document is scored, its
ground truth is taught to the memory through the same code as a reviewer's correction
(`books.teach.teach_pages`), so only documents already scored ever teach anything.

Each document is also marked `seen_vendor`: whether an earlier document of the same vendor (by
the ground truth's vendor name, else its VAT id) had been taught, and the report shows accuracy
for first-seen and seen-before vendors side by side.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ledgerlens.pipeline.books.store import Store
from ledgerlens.pipeline.books.teach import teach_pages
from ledgerlens.pipeline.books.vendors import StoreVendorMemory
from ledgerlens.pipeline.chain import Context, Runner, direct, process_file
from ledgerlens.pipeline.config import Config
from ledgerlens.pipeline.doctypes.schemas import DocumentSchema
from ledgerlens.pipeline.engines.memory import name_key
from ledgerlens.pipeline.measure.readcache import ReadCache
from ledgerlens.pipeline.measure.report import Report
from ledgerlens.pipeline.types import DocumentResult, Page


def vendor_of(fields: dict[str, Any]) -> str | None:
    """Who issued a labelled document, for telling first-seen from seen-before vendors."""
    if fields.get("vendor_name"):
        return "name:" + name_key(str(fields["vendor_name"]))
    if fields.get("vendor_vat_id"):
        return "vat:" + str(fields["vendor_vat_id"]).replace(" ", "").upper()
    return None


def _capturing(inner: Runner, readings: list[list[Page]]) -> Runner:
    """A runner that keeps the pages each extraction read (a second reading adds a second list)."""

    def run(stage: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if stage == "extract" and args:
            readings.append(list(args[0]))
        return inner(stage, fn, *args, **kwargs)

    return run


def _kept_reading(result: DocumentResult, readings: list[list[Page]]) -> list[Page] | None:
    if not readings:
        return None
    second = result.provenance.get("second_reading", {})
    return readings[-1] if second.get("used") and len(readings) > 1 else readings[0]


def ground_truth_data(fields: dict[str, Any], schema: DocumentSchema) -> dict[str, Any]:
    """The labelled fields a reviewer would have typed, under the schema's names."""
    names = set(schema.field_names())
    return {k: v for k, v in fields.items() if k in names and v not in (None, "", [])}


def evaluate_learning(cases: list[Any], config: Config, *, read_cache: Path | None = None, progress: Any) -> Report:
    report = Report(learned=True)
    inner = ReadCache(read_cache, config.pipeline).runner() if read_cache else direct
    with tempfile.TemporaryDirectory(prefix="ledgerlens-learn-") as tmp:
        store = Store(f"sqlite:///{Path(tmp) / 'memory.db'}")
        try:
            memory = StoreVendorMemory(store, "eval --learn")
            ctx = Context.create(config, memory=memory)
            with progress as bar:
                task = bar.add_task("eval --learn", total=len(cases)) if bar else None
                taught: set[str] = set()
                for case in sorted(cases, key=lambda c: (c.path.name, c.dataset)):
                    _one(case, ctx, memory, inner, report, taught)
                    if bar:
                        bar.update(task, advance=1)
        finally:
            store.close()
    return report


def _one(case: Any, ctx: Context, memory: StoreVendorMemory, inner: Runner, report: Report, taught: set[str]) -> None:
    readings: list[list[Page]] = []
    start = time.perf_counter()
    result = process_file(case.path, ctx, source_name=case.path.name, runner=_capturing(inner, readings))
    vendor = vendor_of(case.fields)
    report.add(case, result, time.perf_counter() - start, seen=vendor is not None and vendor in taught)
    schema = ctx.schemas.get(case.doc_type or result.doc_type)
    pages = _kept_reading(result, readings)
    if schema is None or pages is None:
        return
    if teach_pages(memory, pages, ground_truth_data(case.fields, schema), schema) is not None and vendor:
        taught.add(vendor)
