"""The review round trip: export the workbook, correct a cell as an accountant would (openpyxl),
import it, and find the store corrected, the audit trail written and a labelled example kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ledgerlens.pipeline.books.audit import audit_trail, exported
from ledgerlens.pipeline.books.store import Store
from ledgerlens.pipeline.check.validate import validate
from ledgerlens.pipeline.doctypes.schemas import load_schemas
from ledgerlens.pipeline.intake.workspace import init_workspace
from ledgerlens.pipeline.measure.evaluate import load_cases
from ledgerlens.pipeline.types import DocumentResult, Status
from openpyxl import load_workbook

from ledgerlens.cli import main

INVOICE = {
    "invoice_number": "INV-9", "date": "2026-10-03", "vendor_name": "Acme Supplies GmbH", "currency": "EUR",
    "net_amount": "100.00", "tax_amount": "19.00", "total_amount": "120.00",
}  # fmt: skip


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = init_workspace(tmp_path / "books")
    (ws.done / "inv 9.pdf").write_bytes(b"%PDF-1.4 the scanned invoice")
    issues = validate(INVOICE, "invoice", load_schemas()["invoice"])
    assert [i.code for i in issues] == ["totals_mismatch"]
    store = Store.for_workspace(ws.root)
    store.save(
        DocumentResult(
            sha256="ab" * 32, source_name="inv 9.pdf", media_type="application/pdf", page_count=1,
            doc_type="invoice", status=Status.NEEDS_REVIEW, data=dict(INVOICE), issues=issues,
            confidence={"total_amount": 0.4, "date": 0.9}, provenance={}, timings={}, source_path="done/inv 9.pdf",
        )
    )  # fmt: skip
    store.close()
    return ws.root


def _edit(book: Path, field: str, value: str | None, status: str) -> None:
    wb = load_workbook(book)
    ws = wb["Review"]
    header = [c.value for c in ws[1]]
    for row in ws.iter_rows(min_row=2):
        if row[header.index("field")].value == field:
            row[header.index("corrected_value")].value = value
            row[header.index("review_status")].value = status
            break
    else:
        raise AssertionError(f"no Review row for {field}")
    wb.save(book)


def test_a_corrected_cell_goes_back_into_the_store_with_an_audit_row(workspace: Path) -> None:
    assert main(["export", "--to", "xlsx", "--workspace", str(workspace)]) == 0
    book = workspace / "exports" / "ledger.xlsx"
    _edit(book, "total_amount", "119,00", "corrected")  # typed the way the accountant writes it
    assert main(["review", "import", str(book), "--user", "alice"]) == 0

    store = Store.for_workspace(workspace)
    try:
        doc = store.get("1")
        assert doc is not None
        assert doc.result.data["total_amount"] == "119.00"
        assert doc.result.issues == [] and doc.result.status is Status.OK  # checks redone: net + tax = total
        assert doc.result.confidence["total_amount"] == 1.0
        assert doc.result.provenance["review"]["by"] == "alice"
        (row,) = audit_trail(store, doc.result.sha256)
        assert (row.field, row.action, row.old_value, row.new_value, row.user) == (
            "total_amount", "corrected", "120.00", "119.00", "alice"
        )  # fmt: skip
        assert row.source.endswith("ledger.xlsx row 2") and row.at is not None
    finally:
        store.close()

    examples = workspace / "examples"
    label = json.loads((examples / "inv 9.pdf.json").read_text(encoding="utf-8"))
    assert (examples / "inv 9.pdf").read_bytes() == b"%PDF-1.4 the scanned invoice"
    assert label["fields"]["total_amount"] == "119.00" and label["reviewed_by"] == "alice"
    (case,) = load_cases(examples)  # the layout `ledgerlens eval` reads
    assert case.doc_type == "invoice" and case.fields["total_amount"] == "119.00"

    # Importing the same workbook again changes nothing and writes no second audit row.
    assert main(["review", "import", str(book), "--user", "bob"]) == 0
    store = Store.for_workspace(workspace)
    try:
        assert len(audit_trail(store)) == 1
    finally:
        store.close()


def test_a_correction_that_is_not_a_value_of_its_kind_is_rejected(workspace: Path, capsys) -> None:
    assert main(["export", "--to", "xlsx", "--workspace", str(workspace)]) == 0
    book = workspace / "exports" / "ledger.xlsx"
    _edit(book, "total_amount", "about a hundred", "corrected")
    assert main(["review", "import", str(book), "--user", "alice"]) == 1
    assert "rejected row 2" in capsys.readouterr().out
    store = Store.for_workspace(workspace)
    try:
        doc = store.get("1")
        assert doc is not None and doc.result.data["total_amount"] == "120.00"
        assert audit_trail(store) == []
    finally:
        store.close()


def test_accepting_a_finding_clears_it_and_is_audited(workspace: Path) -> None:
    assert main(["export", "--to", "xlsx", "--workspace", str(workspace)]) == 0
    book = workspace / "exports" / "ledger.xlsx"
    _edit(book, "total_amount", None, "accepted")
    assert main(["review", "import", str(book), "--user", "carol"]) == 0
    store = Store.for_workspace(workspace)
    try:
        doc = store.get("1")
        assert doc is not None and doc.result.data["total_amount"] == "120.00"
        assert "totals_mismatch" not in [i.code for i in doc.result.issues]
        assert [(r.action, r.user) for r in audit_trail(store)] == [("accepted", "carol")]
    finally:
        store.close()


def test_export_since_last_records_what_went_out(workspace: Path) -> None:
    assert main(["export", "--to", "journal", "--workspace", str(workspace), "--since-last"]) == 0
    journal = workspace / "exports" / "accounting" / "journal.csv"
    assert "INV-9" in journal.read_text(encoding="utf-8-sig")
    store = Store.for_workspace(workspace)
    try:
        assert exported(store, "journal") == {"ab" * 32}
    finally:
        store.close()
    assert main(["export", "--to", "journal", "--workspace", str(workspace), "--since-last"]) == 0
    assert journal.read_text(encoding="utf-8-sig").count("\n") == 1  # nothing new: the header only
    assert main(["export", "--to", "journal", "--workspace", str(workspace), "--period", "2026-09"]) == 0
    assert main(["init", str(workspace), "--chart", "skr03"]) == 0  # DATEV's header needs the SKR
    assert main(["export", "--to", "datev", "--workspace", str(workspace), "--period", "2026-10"]) == 0
    assert list((workspace / "exports" / "accounting").glob("EXTF_Buchungsstapel_20261003_20261003.csv"))
