"""A stored document's pages as a reviewer sees them: each page's image and its words.

Made on demand from the document's own file (its `source_path` in done/ or failed/, taken from
the store, never from a request) with the read stage, the same load, rasterize and OCR as
processing, and kept under `<workspace>/.cache/review/<sha256>/` (`page-0001.png`, `words.json`):
a page is rendered and read once, not on every request. The cache is never the record: deleting
it costs only the time to make it again.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from collections import defaultdict
from pathlib import Path
from typing import Any

from ledgerlens.pipeline.books.store import StoredDocument
from ledgerlens.pipeline.config import PipelineOptions
from ledgerlens.pipeline.errors import DocumentError
from ledgerlens.pipeline.read.load import load_document
from ledgerlens.pipeline.read.ocr import read_text
from ledgerlens.pipeline.read.rasterize import rasterize
from ledgerlens.pipeline.types import Document, Page, Word
from PIL import Image

CACHE = Path(".cache") / "review"
WORDS_FORMAT = "ledgerlens-review-words/1"
# pdfium must not be called from two threads at once; one lock per document keeps two requests
# for the same document from rendering or reading it twice.
_PDFIUM = threading.Lock()
_DOCUMENT_LOCKS: dict[str, threading.Lock] = defaultdict(threading.Lock)
_LOCKS_LOCK = threading.Lock()


class PagesUnavailable(Exception):
    """The document's pages cannot be shown (its file is gone, outside the workspace, unreadable)."""


def document_file(root: Path, stored: StoredDocument) -> Path:
    """The document's file as the store records it; it must lie inside the workspace."""
    recorded = stored.result.source_path
    if not recorded:
        raise PagesUnavailable("the store records no file for this document")
    path = Path(recorded)
    path = (path if path.is_absolute() else root / path).resolve()
    if not path.is_relative_to(root.resolve()):
        raise PagesUnavailable(f"its file {recorded} is outside the workspace")
    if not path.is_file():
        raise PagesUnavailable(f"its file {recorded} is no longer there")
    return path


def cache_dir(root: Path, sha256: str) -> Path:
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise PagesUnavailable("the document has no sha256 identity")
    return root / CACHE / sha256


def _lock(sha256: str) -> threading.Lock:
    with _LOCKS_LOCK:
        return _DOCUMENT_LOCKS[sha256]


def _load(path: Path, stored: StoredDocument, opts: PipelineOptions) -> Document:
    try:
        with _PDFIUM:
            return load_document(path, opts, stored.result.source_name)
    except DocumentError as e:
        raise PagesUnavailable(e.message) from None


def page_image(root: Path, stored: StoredDocument, page: int, opts: PipelineOptions) -> Path:
    """The PNG of page `page` (1-based), rendered at the pipeline's DPI the first time it is asked for."""
    if not 1 <= page <= max(stored.result.page_count, 1):
        raise PagesUnavailable(f"the document has no page {page}")
    target = cache_dir(root, stored.result.sha256) / f"page-{page:04d}.png"
    if target.is_file():
        return target
    with _lock(stored.result.sha256):
        if not target.is_file():
            doc = _load(document_file(root, stored), stored, opts)
            if page > len(doc.pages):
                raise PagesUnavailable(f"the document has no page {page}")
            doc.pages = [doc.pages[page - 1]]
            try:
                _render(doc, opts, target.parent)
            finally:
                _scrap(doc)
    return target


def _render(doc: Document, opts: PipelineOptions, folder: Path, *, all_pages: bool = True) -> None:
    """Rasterize the document's pages (all, or only those OCR needs) into `doc.work_dir`, a scratch
    folder the caller removes, and keep a PNG of each in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    doc.work_dir = Path(tempfile.mkdtemp(prefix=".render-", dir=folder))
    try:
        rasterize(doc, opts, doc.work_dir, all_pages=all_pages)
    except DocumentError as e:
        raise PagesUnavailable(e.message) from None
    for page in doc.pages:
        if page.image_path is not None:
            _keep_png(page.image_path, folder / f"page-{page.index + 1:04d}.png")


def _scrap(doc: Document) -> None:
    if doc.work_dir is not None:
        shutil.rmtree(doc.work_dir, ignore_errors=True)


def _keep_png(image: Path, target: Path) -> None:
    if target.is_file():
        return
    tmp = target.with_name(f".{target.name}.tmp")
    with Image.open(image) as im:
        im.save(tmp, "PNG")
    os.replace(tmp, target)  # a reader never sees half an image


def page_words(root: Path, stored: StoredDocument, opts: PipelineOptions) -> list[Page]:
    """Every page's words (text layer, else OCR) with the page's size in the words' unit; read once."""
    target = cache_dir(root, stored.result.sha256) / "words.json"
    cached = _read_words(target)
    if cached is not None:
        return cached
    with _lock(stored.result.sha256):
        cached = _read_words(target)
        if cached is not None:
            return cached
        doc = _load(document_file(root, stored), stored, opts)
        try:
            _render(doc, opts, target.parent, all_pages=False)  # the pages without a text layer, for OCR
            read_text(doc, opts)
        except DocumentError as e:
            raise PagesUnavailable(e.message) from None
        finally:
            _scrap(doc)
        _write_words(target, doc.pages)
        return doc.pages


def _write_words(target: Path, pages: list[Page]) -> None:
    body = {
        "format": WORDS_FORMAT,
        "pages": [
            {
                "page": p.index + 1,
                "width": p.width,
                "height": p.height,
                "text_source": p.text_source,
                "words": [[w.text, *w.bbox, round(w.conf, 3), w.line] for w in p.words],
            }
            for p in pages
        ],
    }
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, target)


def _read_words(path: Path) -> list[Page] | None:
    try:
        body: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if body.get("format") != WORDS_FORMAT:
        return None  # written by another version: read again
    return [
        Page(
            index=int(p["page"]) - 1,
            width=float(p["width"]),
            height=float(p["height"]),
            text_source=p["text_source"],
            words=[Word(t, (x0, y0, x1, y1), conf, line) for t, x0, y0, x1, y1, conf, line in p["words"]],
        )
        for p in body["pages"]
    ]
