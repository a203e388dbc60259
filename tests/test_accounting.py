"""Accounting exports from a fixed set of stored documents: golden files, balance, encodings, escaping.

Golden files live in tests/fixtures/accounting/ and never write themselves: when one is missing
or differs, the test fails and leaves the file it produced in its tmp folder for a person to
inspect and copy.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from ledgerlens.pipeline.books.store import StoredDocument
from ledgerlens.pipeline.errors import ConfigError
from ledgerlens.pipeline.export.accounts import load_accounts, parse_accounts
from ledgerlens.pipeline.export.bills import QUICKBOOKS_HEADER, XERO_HEADER, quickbooks_bytes, xero_bytes
from ledgerlens.pipeline.export.datev import datev_files
from ledgerlens.pipeline.export.journal import HEADER as JOURNAL_HEADER
from ledgerlens.pipeline.export.journal import journal_bytes
from ledgerlens.pipeline.export.ledger import build_ledger, in_period
from ledgerlens.pipeline.export.safe import is_formula_like
from ledgerlens.pipeline.types import DocumentResult, Issue, Severity, Status

GOLDEN = Path(__file__).parent / "fixtures" / "accounting"
HYPERLINK = '=HYPERLINK("http://x","y")'
CMD = "+cmd|' /C calc'!A0"
ACCOUNTS = parse_accounts(
    {
        "accounts": {"payable": "1600", "paid": "1000", "input_tax": "1576", "suspense": "9999"},
        "tax_codes": {"19": "VST19", "7": "VST7", "20": "20.0% ECG"},
        "vendors": {
            "ACME SUPPLIES": {"account": "4930", "contact": "Acme Supplies GmbH"},
            "Café Central Ltd.": {"account": "4650", "tax_code": "20.0% ECG", "datev_tax_key": "9"},
        },
        "datev": {"consultant_number": 4711, "client_number": 42},
    }
)


def _doc(i: int, doc_type: str, data: dict, status: Status = Status.OK, name: str = "") -> StoredDocument:
    result = DocumentResult(
        sha256=f"{i:064x}", source_name=name or f"doc{i}.pdf", media_type="application/pdf", page_count=1,
        doc_type=doc_type, status=status, data=data, issues=[], confidence={}, provenance={}, timings={},
        source_path=f"done/{name or f'doc{i}.pdf'}",
    )  # fmt: skip
    stamp = datetime(2026, 10, 1, 8, 0, tzinfo=UTC).replace(day=i)
    return StoredDocument(i, result, 1, stamp, stamp)


def documents() -> list[StoredDocument]:
    two_rates = {
        "document_subtype": "invoice", "invoice_number": "RE-2026-101", "date": "2026-10-03",
        "due_date": "2026-11-02", "vendor_name": "Acme Supplies GmbH", "currency": "EUR",
        "net_amount": "150.00", "tax_amount": "22.50", "total_amount": "172.50",
        "tax_breakdown": [
            {"category": "S", "rate": "19", "basis_amount": "100.00", "tax_amount": "19.00"},
            {"category": "S", "rate": "7", "basis_amount": "50.00", "tax_amount": "3.50"},
        ],
        "line_items": [
            {"description": "Toner", "quantity": "2", "unit_price": "50.00", "tax_rate": "19", "amount": "100.00"},
            {"description": "Fachbuch", "quantity": "1", "unit_price": "50.00", "tax_rate": "7", "amount": "50.00"},
        ],
    }  # fmt: skip
    attack = {
        "invoice_number": CMD, "date": "2026-10-05", "vendor_name": HYPERLINK, "currency": "EUR",
        "net_amount": "100.00", "tax_amount": "19.00", "total_amount": "119.00", "vat_rate": "19",
        "line_items": [{"description": "@SUM(A1:A2)", "quantity": "1", "unit_price": "100.00", "amount": "100.00"}],
    }  # fmt: skip
    credit = {
        "document_subtype": "credit_note", "invoice_number": "GS-7", "date": "2026-10-07",
        "vendor_name": "ACME Supplies", "currency": "EUR", "net_amount": "10.00", "tax_amount": "1.90",
        "total_amount": "11.90", "vat_rate": "19",
    }  # fmt: skip
    receipt = {
        "vendor_name": "Café Central Ltd", "receipt_number": "-1+1", "date": "2026-10-08", "currency": "EUR",
        "net_amount": "10.00", "tax_amount": "2.00", "total_amount": "12.00", "vat_rate": "20",
    }  # fmt: skip
    last_year = {
        "invoice_number": "RE-2025-900", "date": "2025-12-30", "vendor_name": "Acme Supplies GmbH",
        "currency": "EUR", "net_amount": "100.00", "tax_amount": "19.00", "total_amount": "119.00",
        "tax_breakdown": [{"rate": "19.00", "basis_amount": "100.00", "tax_amount": "19.00"}],
    }  # fmt: skip
    return [
        _doc(1, "invoice", two_rates, name="acme-101.pdf"),
        _doc(2, "invoice", attack, Status.NEEDS_REVIEW, name="=attack.pdf"),
        _doc(3, "invoice", credit, name="acme-credit.pdf"),
        _doc(4, "receipt", receipt, name="cafe.jpg"),
        _doc(5, "invoice", last_year, name="acme-900.pdf"),
        _doc(6, "invoice", {"invoice_number": "X", "total_amount": "5.00"}, name="nodate.pdf"),
        _doc(7, "unknown", {}, Status.FAILED, name="broken.pdf"),
        _doc(8, "bank_statement", {"iban": "DE89370400440532013000"}, name="stmt.pdf"),
    ]


def _golden(name: str, produced: bytes, tmp_path: Path) -> None:
    golden = GOLDEN / name
    if not golden.exists() or golden.read_bytes() != produced:
        (tmp_path / name).write_bytes(produced)
        pytest.fail(f"{golden} is missing or differs; the produced file is {tmp_path / name}: inspect it, then copy")


def _rows(data: bytes, encoding: str = "utf-8-sig", delimiter: str = ",") -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode(encoding), newline=""), delimiter=delimiter))


# --- golden files -------------------------------------------------------------------------------


def test_journal_matches_its_golden_file(tmp_path: Path) -> None:
    _golden("journal.csv", journal_bytes(documents(), ACCOUNTS), tmp_path)


def test_quickbooks_bills_match_their_golden_file(tmp_path: Path) -> None:
    _golden("quickbooks_bills.csv", quickbooks_bytes(documents(), ACCOUNTS), tmp_path)


def test_xero_bills_match_their_golden_file(tmp_path: Path) -> None:
    _golden("xero_bills.csv", xero_bytes(documents(), ACCOUNTS), tmp_path)


def test_datev_batches_match_their_golden_files(tmp_path: Path) -> None:
    files = datev_files(documents(), ACCOUNTS)
    assert sorted(files) == [
        "EXTF_Buchungsstapel_20251230_20251230.csv", "EXTF_Buchungsstapel_20261003_20261008.csv"
    ]  # fmt: skip
    for name, data in files.items():
        _golden(name, data, tmp_path)


def test_every_export_is_a_pure_function_of_the_documents() -> None:
    docs = documents()
    assert journal_bytes(docs, ACCOUNTS) == journal_bytes(documents(), ACCOUNTS)
    assert quickbooks_bytes(docs, ACCOUNTS) == quickbooks_bytes(list(docs), ACCOUNTS)
    assert xero_bytes(docs, ACCOUNTS) == xero_bytes(list(docs), ACCOUNTS)
    assert datev_files(docs, ACCOUNTS) == datev_files(documents(), ACCOUNTS)


# --- the journal ---------------------------------------------------------------------------------


def test_every_journal_entry_balances_and_skips_are_explained() -> None:
    ledger = build_ledger(documents(), ACCOUNTS)
    assert [e.entry_id for e in ledger.entries] == ["LL000001", "LL000002", "LL000003", "LL000004", "LL000005"]
    assert all(e.balance() == 0 for e in ledger.entries)
    assert [(d.id, why) for d, why in ledger.skipped] == [
        (6, "no date"), (7, "a unknown is not booked"), (8, "a bank_statement is not booked")
    ]  # fmt: skip
    rows = _rows(journal_bytes(documents(), ACCOUNTS))
    assert rows[0] == list(JOURNAL_HEADER)
    sums: dict[str, Decimal] = {}
    for r in rows[1:]:
        sums[r[0]] = sums.get(r[0], Decimal(0)) + Decimal(r[4] or 0) - Decimal(r[5] or 0)
    assert set(sums.values()) == {Decimal(0)}


def test_the_journal_books_by_vendor_rate_and_side() -> None:
    ledger = {e.entry_id: e for e in build_ledger(documents(), ACCOUNTS).entries}

    def lines(entry_id: str) -> list[str]:
        return [f"{p.account} {p.debit} {p.credit} {p.tax_code}".strip() for p in ledger[entry_id].postings]

    assert lines("LL000005") == ["4930 100.00 0 VST19", "1576 19.00 0", "1600 0 119.00"]
    assert lines("LL000002") == ["9999 100.00 0 VST19", "1576 19.00 0", "1600 0 119.00"]
    # A credit note: the same lines on the other side.
    assert lines("LL000003") == ["4930 0 10.00 VST19", "1576 0 1.90", "1600 11.90 0"]
    # A receipt is paid: the counter account is `paid`; the vendor's own tax code wins.
    assert lines("LL000004") == ["4650 10.00 0 20.0% ECG", "1576 2.00 0", "1000 0 12.00"]
    assert not ledger["LL000002"].mapped and ledger["LL000001"].mapped and ledger["LL000004"].mapped


def test_a_breakdown_that_adds_up_splits_the_expense_by_rate_else_one_line() -> None:
    doc = documents()[0]
    (entry,) = build_ledger([doc], ACCOUNTS).entries
    assert [(p.account, p.debit, p.tax_code) for p in entry.postings if p.kind == "expense"] == [
        ("4930", Decimal("100.00"), "VST19"), ("4930", Decimal("50.00"), "VST7")
    ]  # fmt: skip
    doc.result.data["tax_breakdown"][0]["tax_amount"] = "20.00"  # rows no longer add up to the total
    (entry,) = build_ledger([doc], ACCOUNTS).entries
    assert [(p.account, p.debit) for p in entry.postings] == [
        ("4930", Decimal("150.00")), ("1576", Decimal("22.50")), ("1600", Decimal("0"))
    ]  # fmt: skip
    assert entry.balance() == 0


# --- QuickBooks and Xero -------------------------------------------------------------------------


def test_bills_repeat_the_bill_number_per_line_and_leave_out_receipts_and_credit_notes() -> None:
    qb = _rows(quickbooks_bytes(documents(), ACCOUNTS))
    assert qb[0] == list(QUICKBOOKS_HEADER)
    assert [(r[0], r[6], r[7]) for r in qb[1:]] == [
        ("RE-2026-101", "Toner", "100.00"), ("RE-2026-101", "Fachbuch", "50.00"),
        ("'" + CMD, "'@SUM(A1:A2)", "100.00"), ("RE-2025-900", "Acme Supplies GmbH RE-2025-900", "100.00"),
    ]  # fmt: skip
    assert qb[1][1:4] == ["Acme Supplies GmbH", "10/03/2026", "11/02/2026"]
    xero = _rows(xero_bytes(documents(), ACCOUNTS))
    assert xero[0] == list(XERO_HEADER)
    head = {name.lstrip("*"): i for i, name in enumerate(xero[0])}
    first = xero[1]
    assert [first[head[k]] for k in ("ContactName", "InvoiceNumber", "InvoiceDate", "DueDate", "Description",
                                     "Quantity", "UnitAmount", "AccountCode", "TaxType", "Currency")] == [
        "Acme Supplies GmbH", "RE-2026-101", "03/10/2026", "02/11/2026", "Toner", "2", "50.00", "4930", "VST19", "EUR"
    ]  # fmt: skip


# --- DATEV ---------------------------------------------------------------------------------------


def test_datev_has_the_extf_header_semicolons_decimal_comma_cp1252_and_crlf() -> None:
    data = datev_files(documents(), ACCOUNTS)["EXTF_Buchungsstapel_20261003_20261008.csv"]
    assert data.count(b"\r\n") == len(data.split(b"\r\n")) - 1 and b"\n" not in data.replace(b"\r\n", b"")
    assert "Geschäftspartnerbank".encode("cp1252") in data  # Windows-1252, not UTF-8
    header, columns, *rows = _rows(data, "cp1252", ";")
    assert header[:6] == ["EXTF", "700", "21", "Buchungsstapel", "13", "20261004080000000"]
    assert header[10:16] == ["4711", "42", "20260101", "4", "20261003", "20261008"]
    assert columns[:10] == ["Umsatz (ohne Soll/Haben-Kz)", "Soll/Haben-Kennzeichen", "WKZ Umsatz", "Kurs",
                            "Basis-Umsatz", "WKZ Basis-Umsatz", "Konto", "Gegenkonto (ohne BU-Schlüssel)",
                            "BU-Schlüssel", "Belegdatum"]  # fmt: skip
    booked = [(r[0], r[1], r[6], r[7], r[8], r[9], r[10]) for r in rows]
    assert booked == [
        ("100,00", "S", "4930", "1600", "", "0310", "RE-2026-101"),
        ("50,00", "S", "4930", "1600", "", "0310", "RE-2026-101"),
        ("22,50", "S", "1576", "1600", "", "0310", "RE-2026-101"),
        ("100,00", "S", "9999", "1600", "", "0510", "cmd/CcalcA0"),
        ("19,00", "S", "1576", "1600", "", "0510", "cmd/CcalcA0"),
        ("10,00", "H", "4930", "1600", "", "0710", "GS-7"),
        ("1,90", "H", "1576", "1600", "", "0710", "GS-7"),
        ("12,00", "S", "4650", "1000", "0009", "0810", "1+1"),  # gross with the BU key: DATEV splits the VAT
    ]


# --- formula injection in every format -----------------------------------------------------------


@pytest.mark.parametrize("fmt", ["journal", "quickbooks", "xero", "datev"])
def test_no_text_cell_can_start_a_formula(fmt: str) -> None:
    docs = documents()
    if fmt == "datev":
        cells = [c for data in datev_files(docs, ACCOUNTS).values() for r in _rows(data, "cp1252", ";") for c in r]
    else:
        data = {"journal": journal_bytes, "quickbooks": quickbooks_bytes, "xero": xero_bytes}[fmt](docs, ACCOUNTS)
        cells = [c for r in _rows(data) for c in r]
    amounts = [c for c in cells if c.replace(",", "").replace(".", "").lstrip("-").isdigit()]
    risky = [c for c in cells if is_formula_like(c) and c not in amounts]
    assert risky == []
    assert any(c.startswith("'=HYPERLINK(") for c in cells)  # there, but escaped


# --- the mapping file ----------------------------------------------------------------------------


def test_accounts_file_is_read_from_the_workspace_and_typos_are_errors(tmp_path: Path) -> None:
    assert load_accounts(tmp_path).suspense == "9999"  # no file: everything to suspense
    (tmp_path / "accounts.toml").write_text('[accounts]\nsuspens = "9999"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown key"):
        load_accounts(tmp_path)
    (tmp_path / "accounts.toml").write_text('[vendors."Acme GmbH"]\ntax_code = "X"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="needs an account"):
        load_accounts(tmp_path)
    (tmp_path / "accounts.toml").write_text(
        '[vendors."Acme GmbH"]\naccount = "1"\n[vendors."ACME LTD"]\naccount = "2"\n', encoding="utf-8"
    )
    with pytest.raises(ConfigError, match="same vendor"):
        load_accounts(tmp_path)


def test_period_selects_by_document_date() -> None:
    docs = documents()
    assert [d.id for d in docs if in_period(d, "2026-10")] == [1, 2, 3, 4]
    assert [d.id for d in docs if in_period(d, "2025")] == [5]
    assert len([d for d in docs if in_period(d, None)]) == len(docs)


def test_unmapped_vendors_are_listed_in_the_review_sheet(tmp_path: Path) -> None:
    from ledgerlens.pipeline.export.xlsx import export_xlsx
    from openpyxl import load_workbook

    path = export_xlsx(documents(), tmp_path / "ledger.xlsx", accounts=ACCOUNTS)
    ws = load_workbook(path)["Review"]
    header = [c.value for c in ws[1]]
    rows = [dict(zip(header, (c.value for c in r), strict=False)) for r in ws.iter_rows(min_row=2)]
    unmapped = [(r["id"], r["field"]) for r in rows if r["code"] == "unmapped_vendor"]
    assert unmapped == [(2, "vendor_name"), (6, "vendor_name")]
    assert "booked to suspense account 9999" in next(r["reason"] for r in rows if r["code"] == "unmapped_vendor")


def test_duplicate_issue_severity_is_an_error_for_the_journal_reader() -> None:
    # Issues do not change bookings: a flagged document is still booked (the reviewer decides).
    doc = documents()[0]
    doc.result.issues.append(Issue("validate", "duplicate_invoice", Severity.ERROR, "dup", field="invoice_number"))
    assert len(build_ledger([doc], ACCOUNTS).entries) == 1
