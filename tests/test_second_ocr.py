"""The second reading of hard receipt scans with PP-OCR (rapidocr), and when it is asked for."""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

import pytest
from ledgerlens.pipeline.chain import process_file
from ledgerlens.pipeline.config import Config, PipelineOptions
from ledgerlens.pipeline.doctypes.schemas import load_schemas
from ledgerlens.pipeline.read import second as ocr_second
from ledgerlens.pipeline.read.load import load_document
from ledgerlens.pipeline.read.rasterize import rasterize
from ledgerlens.pipeline.read.second import reading_quality, till_key_fields, wants_second_reading
from ledgerlens.pipeline.types import Document, DocumentResult, Issue, Page, Severity, Status, Word
from PIL import Image, ImageFilter


def test_a_line_box_is_shared_among_its_words_by_length() -> None:
    words = ocr_second.line_words([[[0, 0], [90, 0], [90, 10], [0, 10]]], ["AB CDEF"], [0.9])
    assert [w.text for w in words] == ["AB", "CDEF"]
    assert words[0].bbox == (0.0, 0.0, 2 * 90 / 7, 10.0)
    assert words[1].bbox[2] == 90.0 and words[1].conf == pytest.approx(0.9)
    assert words[0].line == words[1].line == 0


def _doc(conf: float, source: str = "ocr") -> Document:
    page = Page(0, 400, 1000, [Word("TOTAL", (0, 0, 50, 10), conf, 0, 0)], source)  # type: ignore[arg-type]
    return Document("0" * 64, Path("x.png"), "x.png", "image/png", 1, [page])


def _result(doc_type: str = "receipt", issues: list[Issue] | None = None, **data: str) -> DocumentResult:
    return DocumentResult("0" * 64, "x.png", "image/png", 1, doc_type, Status.NEEDS_REVIEW, dict(data),
                          issues or [], {k: 0.9 for k in data}, {}, {})  # fmt: skip


FULL = {"total_amount": "9.00", "date": "2025-01-01", "vendor_name": "SHOP", "vendor_address": "1 ROAD"}
MISSING_TOTAL = Issue("validate", "missing_field", Severity.WARNING, "total_amount was not found", field="total_amount")


SCHEMAS = load_schemas()
KEYS = SCHEMAS["receipt"].card.key_fields


def _asks(result: DocumentResult, doc: Document, second_ocr: str = "rapidocr") -> bool:
    return wants_second_reading(result, doc, second_ocr, till_key_fields(result, doc, SCHEMAS))


@pytest.mark.skipif(not ocr_second.available(), reason="rapidocr is not installed")
def test_asked_for_on_unsure_or_hard_receipts_only() -> None:
    assert _asks(_result(issues=[MISSING_TOTAL]), _doc(0.95))
    assert _asks(_result(**FULL), _doc(0.7))  # a hard scan
    assert not _asks(_result(**FULL), _doc(0.95))  # read well the first time
    assert not _asks(_result("invoice", [MISSING_TOTAL]), _doc(0.7))  # A4 pages: too slow
    assert not _asks(_result(issues=[MISSING_TOTAL]), _doc(1.0, "text_layer"))
    assert not _asks(_result(issues=[MISSING_TOTAL]), _doc(0.7), "none")


def test_till_roll_types_are_those_whose_card_counts_a_narrow_page() -> None:
    assert till_key_fields(_result(), _doc(0.9), SCHEMAS) == ("date", "total_amount", "vendor_name")
    assert till_key_fields(_result("invoice"), _doc(0.9), SCHEMAS) == ()
    assert till_key_fields(_result("unknown"), _doc(0.9), SCHEMAS) == KEYS  # a narrow page of no known type


def test_the_better_reading_has_more_key_fields_and_fewer_errors() -> None:
    error = Issue("validate", "totals_mismatch", Severity.ERROR, "net + tax != total", field="total_amount")
    assert reading_quality(_result(**FULL), KEYS) > reading_quality(_result(total_amount="9.00"), KEYS)
    assert reading_quality(_result(**FULL), KEYS) > reading_quality(_result(issues=[error], **FULL), KEYS)
    failed = replace(_result(**FULL), status=Status.FAILED)
    assert reading_quality(failed, KEYS) < reading_quality(_result(), KEYS)


@pytest.mark.slow
@pytest.mark.skipif(not ocr_second.available(), reason="rapidocr is not installed")
def test_pp_ocr_reads_a_receipt_scan(samples: Path) -> None:
    opts = PipelineOptions()
    doc = load_document(samples / "receipt_gb_cafe.scan.png", opts)
    rasterize(doc, opts, Path(tempfile.mkdtemp()))
    doc.pages[0].text_source = "ocr"
    again = ocr_second.reread(doc)
    text = " ".join(w.text for w in again.pages[0].words).upper()
    assert "TOTAL" in text and "20.41" in text
    assert doc.pages[0].words == []  # the first reading is left as it was


@pytest.mark.slow
@pytest.mark.skipif(not ocr_second.available(), reason="rapidocr is not installed")
def test_a_faded_receipt_gets_its_second_reading(samples: Path, tmp_path: Path, context) -> None:
    scan = Image.open(samples / "receipt_my_sroie.scan.png").convert("L")
    small = scan.resize((scan.width // 2, scan.height // 2)).filter(ImageFilter.GaussianBlur(0.8))
    faded = small.point(lambda v: 120 + v * 135 // 255)  # grey ink on grey paper
    path = tmp_path / "faded_receipt.png"
    faded.save(path)
    result = process_file(path, context)
    second = result.provenance.get("second_reading")
    assert second is not None and second["engine"] == "rapidocr"
    assert result.doc_type == "receipt" and result.data.get("total_amount") == "64.26"
    assert Config().pipeline.second_ocr == "rapidocr"
