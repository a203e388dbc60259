"""Duplicate invoices across the store: same vendor (normalized) and number, or same vendor, date and total."""

from __future__ import annotations

from pathlib import Path

from ledgerlens.pipeline.books.duplicates import duplicate_issues, flag_duplicates
from ledgerlens.pipeline.books.store import Store
from ledgerlens.pipeline.types import DocumentResult, Issue, Severity, Status


def _result(n: int, data: dict, doc_type: str = "invoice", status: Status = Status.OK) -> DocumentResult:
    return DocumentResult(
        sha256=f"{n:064x}", source_name=f"doc{n}.pdf", media_type="application/pdf", page_count=1,
        doc_type=doc_type, status=status, data=data, issues=[], confidence={}, provenance={}, timings={},
    )  # fmt: skip


BASE = {"vendor_name": "Acme Supplies GmbH", "invoice_number": "INV-1", "date": "2026-10-03", "total_amount": "119.00"}


def _store(tmp_path: Path, *datas: dict, doc_type: str = "invoice") -> Store:
    store = Store(f"sqlite:///{tmp_path}/dup.db")
    for n, data in enumerate(datas, start=1):
        store.save(_result(n, data, doc_type))
    return store


def test_same_vendor_and_number_flags_the_later_one(tmp_path: Path) -> None:
    store = _store(
        tmp_path, BASE, {**BASE, "vendor_name": "ACME SUPPLIES", "invoice_number": "inv-1 ", "total_amount": "9"}
    )
    try:
        assert flag_duplicates(store) == 1
        first, second = store.all()
        assert first.result.issues == [] and first.result.status is Status.OK
        (issue,) = second.result.issues
        assert (issue.code, issue.severity, issue.field) == ("duplicate_invoice", Severity.ERROR, "invoice_number")
        assert issue.message.startswith("possible duplicate of document 1 (doc1.pdf): same vendor and the same invoice")
        assert second.result.status is Status.NEEDS_REVIEW
        assert flag_duplicates(store) == 0  # idempotent: nothing rewritten
    finally:
        store.close()


def test_same_vendor_date_and_total_without_a_number_match(tmp_path: Path) -> None:
    other = {**BASE, "invoice_number": "INV-2"}
    store = _store(tmp_path, BASE, other)
    try:
        assert flag_duplicates(store) == 1
        (issue,) = store.all()[1].result.issues
        assert "the same date 2026-10-03 and total 119.00" in issue.message
    finally:
        store.close()


def test_different_vendors_numbers_or_a_credit_note_are_not_duplicates(tmp_path: Path) -> None:
    docs = [
        BASE,
        {**BASE, "vendor_name": "Acme Services GmbH"},
        {**BASE, "invoice_number": "INV-3", "total_amount": "120.00"},
        {**BASE, "document_subtype": "credit_note"},
    ]
    store = _store(tmp_path, *docs)
    try:
        assert flag_duplicates(store) == 0
        assert duplicate_issues(store.all()) == {}
    finally:
        store.close()


def test_receipts_are_not_checked_and_a_fixed_duplicate_is_cleared(tmp_path: Path) -> None:
    store = _store(tmp_path, BASE, BASE, doc_type="receipt")
    try:
        assert flag_duplicates(store) == 0
    finally:
        store.close()
    store = Store(f"sqlite:///{tmp_path}/again.db")
    try:
        store.save(_result(1, BASE))
        stale = _result(2, {**BASE, "invoice_number": "INV-7", "total_amount": "1.00"})
        stale.issues = [Issue("validate", "duplicate_invoice", Severity.ERROR, "old", field="invoice_number")]
        stale.status = Status.NEEDS_REVIEW
        store.save(stale)
        assert flag_duplicates(store) == 1
        assert store.all()[1].result.issues == [] and store.all()[1].result.status is Status.OK
    finally:
        store.close()
