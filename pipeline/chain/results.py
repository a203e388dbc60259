"""The results the chain builds besides a read document: unknown type, failed, and provenance."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from ledgerlens.pipeline.errors import DocumentError
from ledgerlens.pipeline.read.load import file_sha256
from ledgerlens.pipeline.types import UNKNOWN, Classification, Document, DocumentResult, Issue, Severity, Status

from ledgerlens import __version__


def provenance(
    doc: Document | None, engine: dict[str, Any], dpi: int, cls: Classification | None = None
) -> dict[str, Any]:
    prov: dict[str, Any] = {"ledgerlens": __version__, "engine": engine, "dpi": dpi}
    if doc is not None:
        # Width and height in the unit of the page's boxes (points for a text layer, pixels for OCR):
        # the review screen places each field's box on the page image by these.
        prov["pages"] = [
            {
                "page": p.index + 1,
                "text_source": p.text_source,
                "words": len(p.words),
                "width": round(p.width, 2),
                "height": round(p.height, 2),
            }
            for p in doc.pages
        ]
    if cls is not None:
        prov["classification"] = {"doc_type": cls.doc_type, "confidence": cls.confidence, "scores": cls.scores}
    return prov


def unknown_result(
    doc: Document, cls: Classification, prov: dict[str, Any], timings: dict[str, float]
) -> DocumentResult:
    best = max(cls.scores.items(), key=lambda kv: kv[1]) if cls.scores else ("nothing", 0.0)
    issue = Issue(
        "classify",
        "unknown_doc_type",
        Severity.WARNING,
        f"Could not tell which kind of document this is (closest: {best[0]}, score {best[1]:.1f}); please classify it.",
    )
    return DocumentResult(
        sha256=doc.sha256,
        source_name=doc.source_name,
        media_type=doc.media_type,
        page_count=len(doc.pages),
        doc_type=UNKNOWN,
        status=Status.NEEDS_REVIEW,
        data={},
        issues=[issue],
        confidence={},
        provenance=prov,
        timings=timings,
    )


def failed_result(
    path: Path,
    name: str,
    error: DocumentError,
    doc: Document | None,
    prov: dict[str, Any],
    timings: dict[str, float],
) -> DocumentResult:
    issue = Issue(error.stage, error.code, Severity.FATAL, error.message, page=error.page)
    prov = {
        **prov,
        "error": {"stage": error.stage, "code": error.code, "hint": error.hint, "transient": error.transient},
    }
    return DocumentResult(
        sha256=doc.sha256 if doc else _identity(path),
        source_name=name,
        media_type=doc.media_type if doc else "unknown",
        page_count=len(doc.pages) if doc else 0,
        doc_type=UNKNOWN,
        status=Status.FAILED,
        data={},
        issues=[issue],
        confidence={},
        provenance=prov,
        timings=timings,
    )


def _identity(path: Path) -> str:
    """Identity of a file that could not be loaded: its bytes when they can be read (empty files
    hash too), else its path."""
    try:
        return file_sha256(path)
    except OSError:
        return hashlib.sha256(str(path).encode()).hexdigest()
