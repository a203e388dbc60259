"""Teaching the vendor memory from a corrected document.

Every correction path (the workbook's `review import`, `review correct`, the web review screen)
goes through `review.apply_corrections`, which calls `teach_document` for each document it
changed; `eval --learn` calls `teach_pages` with the pages it has just read. Both end in the
same `StoreVendorMemory.teach`.

The store keeps results, not the words of each page, so a corrected document is read again
from its file (done/) with the workspace's reading settings, the same reader as its result
used (the second reading when that was kept). A file no longer there teaches nothing and says so.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from ledgerlens.pipeline.books.store import StoredDocument
from ledgerlens.pipeline.books.vendors import StoreVendorMemory
from ledgerlens.pipeline.config import PipelineOptions
from ledgerlens.pipeline.doctypes.schemas import DocumentSchema
from ledgerlens.pipeline.engines.memory import VendorProfile
from ledgerlens.pipeline.engines.ocr.finder import learn_from_pages
from ledgerlens.pipeline.errors import DocumentError
from ledgerlens.pipeline.read import second
from ledgerlens.pipeline.read.load import load_document
from ledgerlens.pipeline.read.ocr import read_text
from ledgerlens.pipeline.read.rasterize import rasterize
from ledgerlens.pipeline.types import Page


def teach_pages(
    memory: StoreVendorMemory, pages: list[Page], data: dict[str, Any], schema: DocumentSchema
) -> VendorProfile | None:
    """Teach the memory what these pages, read as `data` by a person, say about their vendor."""
    lesson = learn_from_pages(pages, data, schema, memory)
    return memory.teach(lesson) if lesson is not None else None


def read_pages(path: Path, opts: PipelineOptions, *, second_reading: bool) -> list[Page]:
    """The document's pages with their words, read as the pipeline read them."""
    work = Path(tempfile.mkdtemp(prefix="ledgerlens-teach-"))
    try:
        doc = load_document(path, opts)
        doc = read_text(rasterize(doc, opts, work), opts)
        if second_reading and second.available():
            doc = second.reread(doc)
        return [*doc.pages]
    finally:
        shutil.rmtree(work, ignore_errors=True)


def teach_document(
    memory: StoreVendorMemory, stored: StoredDocument, schema: DocumentSchema, opts: PipelineOptions, root: Path
) -> tuple[VendorProfile | None, str | None]:
    """(profile taught, None) or (None, why nothing was taught)."""
    r = stored.result
    if not r.source_path:
        return None, "the store does not know where the file is"
    path = Path(r.source_path)
    path = path if path.is_absolute() else root / path
    if not path.is_file():
        return None, f"{path} is not there any more"
    used_second = bool(r.provenance.get("second_reading", {}).get("used"))
    try:
        pages = read_pages(path, opts, second_reading=used_second)
    except DocumentError as e:
        return None, f"the file could not be read again: {e}"
    profile = teach_pages(memory, pages, r.data, schema)
    return (profile, None) if profile is not None else (None, "nothing on the page tells its vendor")
