"""Typed data shared by every pipeline stage.

A document moves one way: load -> rasterize -> read text -> classify -> extract (engine) ->
parse -> validate -> store -> export. Each stage takes and returns the types below.
Coordinates are page units: a word's bbox and its page's width/height use the same scale
(PDF points for a text layer, pixels for OCR), so layout code only compares ratios.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal


class Status(StrEnum):
    OK = "ok"
    NEEDS_REVIEW = "needs_review"
    FAILED = "failed"


class Severity(StrEnum):
    ERROR = "error"  # a check failed: a number or id is probably wrong
    WARNING = "warning"  # something to look at: low confidence, missing field, unknown type
    FATAL = "fatal"  # the document could not be read at all


UNKNOWN = "unknown"

TextSource = Literal["text_layer", "ocr", "none"]


@dataclass(frozen=True, slots=True)
class Word:
    text: str
    bbox: tuple[float, float, float, float]  # x0, y0, x1, y1; y grows downwards
    conf: float = 1.0  # 0..1; 1.0 for a PDF text layer
    line: int = -1  # reading-order line number within the page, -1 when unknown
    block: int = -1

    @property
    def x0(self) -> float:
        return self.bbox[0]

    @property
    def y0(self) -> float:
        return self.bbox[1]

    @property
    def x1(self) -> float:
        return self.bbox[2]

    @property
    def y1(self) -> float:
        return self.bbox[3]

    @property
    def height(self) -> float:
        return self.bbox[3] - self.bbox[1]

    @property
    def cy(self) -> float:
        return (self.bbox[1] + self.bbox[3]) / 2


@dataclass(slots=True)
class Page:
    index: int  # 0-based
    width: float
    height: float
    words: list[Word] = field(default_factory=list)
    text_source: TextSource = "none"
    image_path: Path | None = None  # rasterized image, when one was needed
    dpi: int | None = None

    @property
    def text(self) -> str:
        lines: dict[int, list[str]] = {}
        for w in self.words:
            lines.setdefault(w.line, []).append(w.text)
        return "\n".join(" ".join(ws) for _, ws in sorted(lines.items()))


@dataclass(slots=True)
class Document:
    sha256: str
    path: Path  # where the bytes are read from now (processing/ during a run)
    source_name: str  # the file name the user dropped
    media_type: str  # detected from content, never from the extension
    size_bytes: int
    pages: list[Page] = field(default_factory=list)
    work_dir: Path | None = None  # scratch folder for page images; removed after the run

    @property
    def text(self) -> str:
        return "\n\f".join(p.text for p in self.pages)

    @property
    def word_count(self) -> int:
        return sum(len(p.words) for p in self.pages)


@dataclass(frozen=True, slots=True)
class Issue:
    stage: str
    code: str
    severity: Severity
    message: str
    page: int | None = None  # 1-based for people
    field: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "code": self.code,
            "severity": str(self.severity),
            "message": self.message,
            "page": self.page,
            "field": self.field,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Issue:
        return cls(
            stage=d["stage"],
            code=d["code"],
            severity=Severity(d["severity"]),
            message=d["message"],
            page=d.get("page"),
            field=d.get("field"),
        )


@dataclass(frozen=True, slots=True)
class Classification:
    doc_type: str  # a document type (a schema and its card) or UNKNOWN
    confidence: float
    scores: dict[str, float]
    subtype: str | None = None  # e.g. "credit_note"


@dataclass(frozen=True, slots=True)
class FieldEvidence:
    """Where a value came from: the page, the box, the label that led to it, and how sure we are."""

    confidence: float
    page: int | None = None  # 1-based
    bbox: tuple[float, float, float, float] | None = None
    source: str = ""  # e.g. "label:Total", "pattern:iban", "xml", "model"
    text: str = ""  # the text as it appears on the page

    def to_dict(self) -> dict[str, Any]:
        return {
            "confidence": round(self.confidence, 3),
            "page": self.page,
            "bbox": [round(v, 1) for v in self.bbox] if self.bbox else None,
            "source": self.source,
            "text": self.text,
        }


@dataclass(frozen=True, slots=True)
class Located:
    """Where a value is printed: its page (1-based), the box around it and the text as printed."""

    page: int
    bbox: tuple[float, float, float, float]
    text: str


@dataclass(slots=True)
class EngineOutput:
    """What an engine returns: its raw text, the data it read, and evidence per field path."""

    raw_text: str
    data: dict[str, Any]
    field_evidence: dict[str, FieldEvidence]
    model_info: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)
    token_logprobs: list[float] | None = None
    # Problems the engine itself found with this document (a value not on any page, output cut off).
    issues: list[Issue] = field(default_factory=list)


def status_of(issues: list[Issue]) -> Status:
    """A document with a fatal issue failed; one with any other issue needs review; else ok."""
    if any(i.severity is Severity.FATAL for i in issues):
        return Status.FAILED
    return Status.NEEDS_REVIEW if issues else Status.OK


@dataclass(slots=True)
class DocumentResult:
    sha256: str
    source_name: str
    media_type: str
    page_count: int
    doc_type: str
    status: Status
    data: dict[str, Any]
    issues: list[Issue]
    confidence: dict[str, float]  # field path -> 0..1
    provenance: dict[str, Any]
    timings: dict[str, float]
    source_path: str | None = None  # where the file ended up (done/ or failed/)

    @property
    def failure_reason(self) -> str | None:
        fatal = [i for i in self.issues if i.severity is Severity.FATAL]
        return fatal[0].message if fatal else None
