"""Document type from page text and shape; weak or split evidence gives `unknown` (sent to review)."""

from __future__ import annotations

from pathlib import Path

import pytest
from ledgerlens.pipeline.read.classify import classify
from ledgerlens.pipeline.types import UNKNOWN, Classification, Document, Page, Word

A4 = (595.0, 842.0)
TILL_ROLL = (220.0, 800.0)  # 80 mm paper: width/height well under 0.45


def _page(text: str, size: tuple[float, float] = A4, index: int = 0) -> Page:
    words: list[Word] = []
    for line_no, line in enumerate(text.strip().splitlines()):
        x = 20.0
        for token in line.split():
            words.append(Word(token, (x, 20.0 + 12 * line_no, x + 6 * len(token), 30.0 + 12 * line_no), line=line_no))
            x += 6 * len(token) + 4
    return Page(index, size[0], size[1], words, text_source="text_layer")


def _classify(*texts: str, size: tuple[float, float] = A4) -> Classification:
    pages = [_page(t, size, i) for i, t in enumerate(texts)]
    return classify(Document("ab" * 32, Path("doc.pdf"), "doc.pdf", "application/pdf", 1000, pages))


INVOICES = {
    "en": """ACME Supplies Ltd
        INVOICE
        Invoice number: INV-42
        Invoice date: 03/03/2025
        Bill to: Example Trading
        Description Qty Unit price Amount
        Paper 10 10.00 100.00
        VAT 20% 20.00
        Amount due 120.00""",
    "es": """Papelería Central S.L.
        FACTURA
        Número de factura: F-2025-7
        Fecha de factura: 3 de marzo de 2025
        Base imponible 100,00
        IVA 21% 21,00
        Total 121,00""",
    "de": """Müller GmbH
        Rechnung
        Rechnungsnummer: RE-1
        Rechnungsdatum: 03.03.2025
        Nettobetrag 100,00
        MwSt 19% 19,00
        Gesamtbetrag 119,00""",
    "fr": """Dupont SARL
        FACTURE
        Date de facture : 3 mars 2025
        Total HT 100,00
        TVA 20% 20,00
        Montant TTC 120,00""",
}

RECEIPTS = {
    "en": """KEDAI RUNCIT
        RECEIPT
        Cashier: Ali
        MINERAL WATER 2 3.80
        TOTAL 9.30
        CASH 10.00
        CHANGE 0.70
        Thank you, please come again""",
    "de": """Bäckerei Schmidt
        Kassenbon
        Brötchen 2,40
        Bar 5,00
        Rückgeld 2,60""",
    "es": """Cafetería Sol
        Ticket
        Café 1,50
        Efectivo 2,00
        Cambio 0,50""",
    "fr": """Boulangerie
        Ticket de caisse
        Baguette 1,10
        Espèces 2,00
        Rendu 0,90""",
}

STATEMENT_ROWS = "\n".join(f"{d:02d}/03/2025 Card payment -10.00 {1000 - 10 * d}.00" for d in range(1, 11))


@pytest.mark.parametrize("lang", sorted(INVOICES))
def test_invoices_in_four_languages(lang: str) -> None:
    result = _classify(INVOICES[lang])
    assert result.doc_type == "invoice"
    assert result.subtype == "invoice"
    assert result.confidence > 0.9


@pytest.mark.parametrize(
    "text",
    [
        "ACME Ltd\nCREDIT NOTE\nInvoice number: CN-9\nInvoice date: 03/03/2025\nAmount due -50.00",
        "Müller GmbH\nGutschrift\nRechnungsnummer: GS-3\nRechnungsdatum: 03.03.2025\nGesamtbetrag -119,00",
        "Dupont SARL\nFacture d'avoir\nDate de facture : 3 mars 2025\nMontant TTC -120,00",
        "Papelería\nFactura rectificativa\nNúmero de factura: R-1\nFecha de factura: 3/3/2025",
    ],
    ids=["en", "de", "fr", "es"],
)
def test_a_credit_note_is_an_invoice_with_subtype_credit_note(text: str) -> None:
    result = _classify(text)
    assert (result.doc_type, result.subtype) == ("invoice", "credit_note")


@pytest.mark.parametrize("lang", sorted(RECEIPTS))
def test_receipts_in_four_languages(lang: str) -> None:
    result = _classify(RECEIPTS[lang])
    assert result.doc_type == "receipt"
    assert result.subtype is None  # subtypes are for invoices only


def test_a_bank_statement() -> None:
    text = f"Example Bank\nAccount statement\nOpening balance 1000.00\n{STATEMENT_ROWS}\nClosing balance 900.00"
    result = _classify(text)
    assert result.doc_type == "bank_statement"
    assert result.scores["bank_statement"] > result.scores["invoice"] + result.scores["receipt"]


def test_rows_that_start_with_a_date_mark_a_statement_without_any_cue_word() -> None:
    assert _classify(STATEMENT_ROWS).doc_type == "bank_statement"
    # Seven dated rows are not enough to call it a statement.
    assert _classify("\n".join(STATEMENT_ROWS.splitlines()[:7])).doc_type == UNKNOWN


def test_a_narrow_page_reads_as_a_receipt_even_without_cue_words() -> None:
    text = "SHOP 24\nMILK 1.20\nBREAD 2.10\nTOTAL 3.30"
    assert _classify(text, size=TILL_ROLL).doc_type == "receipt"
    assert _classify(text, size=A4).doc_type == UNKNOWN


def test_a_narrow_page_with_invoice_wording_stays_an_invoice() -> None:
    assert _classify(INVOICES["de"], size=TILL_ROLL).doc_type == "invoice"


def test_a_plain_letter_is_unknown() -> None:
    letter = """Dear Mr Smith,
        thank you for your letter of 3 March. We will reply soon.
        Kind regards,
        Jane"""
    result = _classify(letter)
    assert result.doc_type == UNKNOWN
    assert result.subtype is None


def test_a_single_weak_cue_is_not_enough() -> None:
    assert _classify("Invoice").doc_type == UNKNOWN  # 2.0: below the credible minimum


def test_a_near_tie_is_unknown() -> None:
    # invoice 4.0 (invoice, invoice number) vs receipt 4.0 (receipt, cashier): too close to call.
    result = _classify("Invoice\nInvoice number 7\nReceipt\nCashier Ann")
    assert result.scores["invoice"] == result.scores["receipt"] == 4.0
    assert result.doc_type == UNKNOWN
    assert result.confidence == 0.5


def test_a_clear_margin_decides() -> None:
    # invoice 4.0 vs receipt 3.5: half a point is enough.
    result = _classify("Invoice\nInvoice number 7\nReceipt\nThank you")
    assert result.doc_type == "invoice"


def test_cues_in_later_pages_count() -> None:
    result = _classify("Page one of the packet\nMiscellaneous", INVOICES["en"])
    assert result.doc_type == "invoice"


def test_a_document_with_no_pages_is_unknown() -> None:
    result = classify(Document("0" * 64, Path("x.pdf"), "x.pdf", "application/pdf", 0, []))
    assert result.doc_type == UNKNOWN
