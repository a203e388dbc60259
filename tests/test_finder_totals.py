"""The receipt's total among the amounts a till prints: cash, change, rounding, discounts.

Pages are built from words (a text layer: no OCR), so each case states its layout plainly.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from ledgerlens.pipeline.doctypes.schemas import load_schemas
from ledgerlens.pipeline.engines.ocr.finder import find_fields
from ledgerlens.pipeline.types import Page, Word

WIDTH, LINE = 300.0, 14.0


def till_page(lines: list[tuple[str, str]]) -> Page:
    """A narrow receipt: each line a text on the left and an amount flush right."""
    words: list[Word] = []
    for i, (left, right) in enumerate(lines):
        y = 20 + i * LINE
        x = 10.0
        for token in left.split():
            w = 6.0 * len(token)
            words.append(Word(token, (x, y, x + w, y + 10), 1.0, i, 0))
            x += w + 4
        if right:
            w = 6.0 * len(right)
            words.append(Word(right, (WIDTH - 10 - w, y, WIDTH - 10, y + 10), 1.0, i, 0))
    return Page(0, WIDTH, 40 + len(lines) * LINE, words, "text_layer")


HEAD = [("KEDAI MAJU SDN BHD", ""), ("12 JALAN MAWAR 43000 KAJANG", ""), ("RECEIPT 1001", ""), ("14/03/2024", "")]


@pytest.fixture(scope="module")
def receipt():
    return load_schemas()["receipt"]


def total(receipt, lines: list[tuple[str, str]]) -> Decimal:
    found = find_fields([till_page(HEAD + lines)], receipt)
    return Decimal(found.data["total_amount"])


def test_cash_tendered_and_change_are_not_the_total(receipt) -> None:
    lines = [("GULA 1KG", "3.20"), ("BERAS 5KG", "18.90"), ("TOTAL", "22.10"), ("CASH", "50.00"), ("CHANGE", "27.90")]
    assert total(receipt, lines) == Decimal("22.10")


def test_the_total_after_cash_rounding(receipt) -> None:
    lines = [("ROTI", "7.72"), ("TOTAL INCL GST", "7.72"), ("ROUNDING", "-0.02"), ("NETT TOTAL", "7.70"),
             ("CASH", "10.00"), ("CHANGE", "2.30")]  # fmt: skip
    assert total(receipt, lines) == Decimal("7.70")


def test_a_rounded_amount_without_a_total_label(receipt) -> None:
    lines = [("MILO", "22.91"), ("TOTAL SALES INCL GST", "22.91"), ("ROUNDING ADJUSTMENT", "-0.01"),
             ("ROUNDING", "22.90"), ("CASH", "50.00"), ("CHANGE", "27.10")]  # fmt: skip
    assert total(receipt, lines) == Decimal("22.90")


def test_a_discount_after_the_subtotal(receipt) -> None:
    lines = [("PIZZA", "15.60"), ("SUB-TOTAL", "15.60"), ("COUPON DISCOUNT", "8.40"), ("GRAND TOTAL", "7.20"),
             ("PAYMENT", "10.00"), ("CHANGE DUE", "2.80")]  # fmt: skip
    assert total(receipt, lines) == Decimal("7.20")


def test_a_total_is_never_negative_on_a_receipt(receipt) -> None:
    lines = [("REFUND VOUCHER", "-5.00"), ("ITEM", "15.00"), ("TOTAL", "-15.00"), ("CASH", "20.00"),
             ("CHANGE", "5.00")]  # fmt: skip
    assert total(receipt, lines) == Decimal("15.00")


def test_the_weights_come_with_what_they_were_fitted_on() -> None:
    import json
    from importlib.resources import files

    body = json.loads((files("ledgerlens.pipeline.engines.ocr.finder") / "total_weights.json").read_text())
    assert body["script"] == "benchmarks/fit_finder_weights.py"
    assert "tune" in body["fitted_on"]["dev"] and "check" not in body["fitted_on"]["dev"]
    assert set(body["weights"]) >= {"bias", "label_total_strong", "eq_paid"}


def test_an_invoice_printing_its_totals_negative_is_a_credit_note() -> None:
    invoice = load_schemas()["invoice"]
    lines = [("ACME SUPPLIES GMBH", ""), ("Invoice No 2024-117", ""), ("Date 14.03.2024", ""),
             ("Net amount", "-100.00"), ("VAT 19%", "-19.00"), ("Total amount", "-119.00")]  # fmt: skip
    found = find_fields([till_page(lines)], invoice)
    assert found.data["total_amount"] == "-119.00"
    assert found.data["document_subtype"] == "credit_note"


@pytest.mark.parametrize("printed", ["KEDAI MAJU SON BHD", "KEDAI MAJU SIN BHD", "KEDAI MAJU 5DN BHO"])
def test_sendirian_berhad_misread_by_the_ocr_is_the_legal_form(receipt, printed: str) -> None:
    head = [(printed, ""), *HEAD[1:]]
    found = find_fields([till_page([*head, ("TOTAL", "22.10")])], receipt)
    assert found.data["vendor_name"] == "KEDAI MAJU SDN BHD"
