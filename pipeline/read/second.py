"""A second reading of scanned pages with PP-OCR (rapidocr: ONNX models inside the wheel, offline).

Tesseract is fast and reads clean pages well, but thermal till receipts (small, faded, low
resolution) defeat it often. PP-OCR reads them much better at ~3-5 s a page on a laptop CPU. So it
is not the first reader: the stage chain asks for this second reading only when the first one
left a receipt's key fields missing, unsure or inconsistent, and keeps whichever reading is better.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from functools import cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from ledgerlens.pipeline.doctypes.schemas import DocumentSchema
from ledgerlens.pipeline.errors import DocumentError
from ledgerlens.pipeline.read.ocr import receipt_shaped
from ledgerlens.pipeline.types import UNKNOWN, Document, DocumentResult, Severity, Status, Word

ENGINE = "rapidocr"


def available() -> bool:
    return find_spec("rapidocr") is not None and find_spec("onnxruntime") is not None


@cache
def _engine() -> Any:
    """Loaded once per process (about 1.5 s): detection, orientation and recognition models."""
    from rapidocr import RapidOCR

    # One thread, as Tesseract: parallelism comes from worker processes, which must not fight.
    return RapidOCR(
        params={
            "Global.log_level": "error",
            "EngineConfig.onnxruntime.intra_op_num_threads": 1,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        }
    )


def line_words(boxes: Any, texts: Any, scores: Any) -> list[Word]:
    """PP-OCR reads text lines; words get a share of the line's box in proportion to their length."""
    words: list[Word] = []
    for line, (box, text, score) in enumerate(zip(boxes, texts, scores, strict=True)):
        xs, ys = [float(p[0]) for p in box], [float(p[1]) for p in box]
        x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
        parts = str(text).split()
        width = sum(len(p) for p in parts) + max(len(parts) - 1, 0)
        pos = 0
        for part in parts:
            a = x0 + (x1 - x0) * pos / max(width, 1)
            pos += len(part)
            b = x0 + (x1 - x0) * pos / max(width, 1)
            pos += 1
            words.append(Word(part, (a, y0, b, y1), float(score), line, line))
    return words


def read_image(path: Path) -> list[Word]:
    try:
        result = _engine()(str(path))
    except Exception as e:  # the model failed on this image: the first reading stands
        raise DocumentError("ocr_failed", f"PP-OCR could not read {path.name}: {e}", stage="ocr") from e
    if result.boxes is None or result.txts is None:
        return []
    return line_words(result.boxes, result.txts, result.scores)


def reread(doc: Document) -> Document:
    """A copy of the document whose OCR'd pages are read again by PP-OCR (text layers kept)."""
    again = copy.copy(doc)
    again.pages = []
    for page in doc.pages:
        fresh = copy.copy(page)
        if page.text_source == "ocr" and page.image_path is not None:
            fresh.words = read_image(page.image_path)
        again.pages.append(fresh)
    return again


# A till-roll type's key field missing, unsure or not adding up is worth a second reading.
_DOUBT = {"missing_field", "low_confidence", "totals_mismatch", "unknown_doc_type"}
HARD_SCAN = 0.88  # mean Tesseract word confidence under which a page was hard to read


def till_key_fields(result: DocumentResult, doc: Document, schemas: Mapping[str, DocumentSchema]) -> tuple[str, ...]:
    """The key fields that decide a second reading, or () when the document is not till-roll shaped.

    Till-roll types are those whose card counts a narrow page as a cue (receipts): their pages are
    small, so the second reader is quick. An unknown document on a receipt-shaped page counts too.
    """
    tills = {t: s.card for t, s in schemas.items() if s.card.layout.get("narrow_page")}
    if result.doc_type in tills:
        return tills[result.doc_type].key_fields
    if result.doc_type == UNKNOWN and doc.pages and receipt_shaped(doc.pages[0]):
        return tuple(dict.fromkeys(f for card in tills.values() for f in card.key_fields))
    return ()


def wants_second_reading(result: DocumentResult, doc: Document, second_ocr: str, key_fields: Sequence[str]) -> bool:
    """Till-roll shaped scans (`till_key_fields`) only: when a key field is missing, unsure or does
    not add up, or when the scan was hard."""
    if second_ocr == "none" or not available() or not key_fields:
        return False
    scanned = [w.conf for p in doc.pages if p.text_source == "ocr" for w in p.words]
    if not scanned:
        return False
    doubts = [i for i in result.issues if i.code in _DOUBT and (i.field in key_fields or i.field is None)]
    hard = sum(scanned) / len(scanned) < HARD_SCAN
    return bool(doubts) or hard


def reading_quality(result: DocumentResult, key_fields: Sequence[str]) -> float:
    """Key fields read, how surely, minus what failed: to keep the better of two readings."""
    if result.status is Status.FAILED:
        return -1.0
    present = sum(1.0 + result.confidence.get(f, 0.0) for f in key_fields if result.data.get(f))
    present += 0.5 if result.data.get("vendor_address") else 0.0
    errors = sum(1 for i in result.issues if i.severity is Severity.ERROR)
    return present - 0.5 * errors - (1.0 if result.doc_type == UNKNOWN else 0.0)
