"""A cache of the read stage for `eval --read-cache DIR`: what Tesseract (and the second reader)
saw on each page, keyed by the file's sha256 and the settings that change a reading.

Measuring a change to the field finder means running eval over 150+ OCR'd receipts again and
again; the OCR does not change between those runs, and it is 95 % of the time. With the cache
a finder change is measured in seconds, and the shared cores stay free. Only `eval` uses it,
and only when asked: production always reads the document.

The cache is a `Runner` (chain/run.py) that answers the "ocr" and "ocr_second" stages from
files `DIR/<key>.json.gz`, or runs them and writes the file. Rasterizing still runs (it is
cheap, and a second reading that was never cached needs the page images).
"""

from __future__ import annotations

import copy
import gzip
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ledgerlens.pipeline.chain import Runner, direct
from ledgerlens.pipeline.config import PipelineOptions
from ledgerlens.pipeline.engines.ocr.engine import tesseract_version
from ledgerlens.pipeline.read import second
from ledgerlens.pipeline.types import Document, Page, Word

CACHED_STAGES = ("ocr", "ocr_second")
FORMAT = "ledgerlens-read-cache/1"


def cache_key(sha256: str, stage: str, opts: PipelineOptions) -> str:
    """Everything that changes what the reader returns for these bytes."""
    settings = {
        "stage": stage,
        "dpi": opts.dpi,
        "languages": list(opts.ocr_languages),
        "psm": opts.ocr_psm,
        "reader": tesseract_version() if stage == "ocr" else second.ENGINE,
        "format": FORMAT,
    }
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
    return f"{sha256}-{stage}-{digest}"


def _dump_pages(pages: list[Page]) -> list[dict[str, Any]]:
    return [
        {
            "index": p.index,
            "width": p.width,
            "height": p.height,
            "source": p.text_source,
            "words": [[w.text, *w.bbox, w.conf, w.line, w.block] for w in p.words],
        }
        for p in pages
    ]


def _restore(doc: Document, cached: list[dict[str, Any]]) -> Document:
    """The document's pages with the cached readings (page images, dpi and text layers kept)."""
    out = copy.copy(doc)
    out.pages = []
    for page, saved in zip(doc.pages, cached, strict=True):
        fresh = copy.copy(page)
        fresh.words = [Word(t, (x0, y0, x1, y1), c, ln, b) for t, x0, y0, x1, y1, c, ln, b in saved["words"]]
        fresh.text_source = saved["source"]
        fresh.width, fresh.height = saved["width"], saved["height"]
        out.pages.append(fresh)
    return out


class ReadCache:
    def __init__(self, folder: Path, opts: PipelineOptions) -> None:
        self.folder = folder
        self.opts = opts
        self.hits = 0
        self.misses = 0

    def _path(self, doc: Document, stage: str) -> Path:
        return self.folder / f"{cache_key(doc.sha256, stage, self.opts)}.json.gz"

    def load(self, doc: Document, stage: str) -> Document | None:
        path = self._path(doc, stage)
        if not path.is_file():
            return None
        try:
            body = json.loads(gzip.decompress(path.read_bytes()))
        except (OSError, ValueError):  # a torn write: read again
            return None
        if body.get("format") != FORMAT or len(body.get("pages", [])) != len(doc.pages):
            return None
        return _restore(doc, body["pages"])

    def save(self, doc: Document, stage: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self._path(doc, stage)
        tmp = path.with_suffix(f".tmp{id(doc)}")
        body = {"format": FORMAT, "document": doc.source_name, "pages": _dump_pages(doc.pages)}
        tmp.write_bytes(gzip.compress(json.dumps(body, ensure_ascii=False).encode(), mtime=0))
        tmp.replace(path)  # atomic: a parallel worker never reads half a file

    def runner(self, inner: Runner = direct) -> Runner:
        """A runner that answers the read stages from the cache (and fills it on a miss)."""

        def run(stage: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
            doc = args[0] if args and isinstance(args[0], Document) else None
            if stage not in CACHED_STAGES or doc is None:
                return inner(stage, fn, *args, **kwargs)
            cached = self.load(doc, stage)
            if cached is not None:
                self.hits += 1
                if stage == "ocr":  # read_text updates the document in place: do the same
                    doc.pages = cached.pages
                    return doc
                return cached
            self.misses += 1
            out = inner(stage, fn, *args, **kwargs)
            self.save(out, stage)
            return out

        return run
