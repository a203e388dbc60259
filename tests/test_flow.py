"""The Prefect flow on the ephemeral local API: documents in, store rows, moved files, workbook.

One integration test runs the whole job for one good and one broken document and checks the
store and the workbook cell by cell, and that Prefect shows the failed document by name.
"""

from __future__ import annotations

import json
import shutil
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook
from replay import use_replay

pytestmark = pytest.mark.prefect

INVOICE = "invoice_en_gb.pdf"


@pytest.fixture(scope="module")
def processed(samples: Path, tmp_path_factory: pytest.TempPathFactory):
    from ledgerlens.flows.process import process_workspace
    from ledgerlens.pipeline.intake.workspace import init_workspace

    ws = init_workspace(tmp_path_factory.mktemp("books"))
    use_replay(ws.root)  # the invoice is payload: its recorded reading
    shutil.copy(samples / INVOICE, ws.intake / INVOICE)
    (ws.intake / "sub").mkdir()
    (ws.intake / "sub" / "empty.pdf").write_bytes(b"")
    summary = process_workspace(ws)
    return ws, summary


def _stored(ws):
    from ledgerlens.pipeline.books.store import Store

    store = Store.for_workspace(ws.root)
    try:
        return {d.result.source_name: d for d in store.all()}
    finally:
        store.close()


def test_every_file_ends_in_done_or_failed_and_once_in_the_store(processed) -> None:
    ws, summary = processed
    assert summary["processed"] == 2 and summary["failed"] == 1
    assert sorted(p.name for p in ws.done.iterdir()) == [INVOICE]
    assert sorted(p.name for p in ws.failed.iterdir()) == ["empty.pdf", "empty.pdf.error.json"]
    assert list(ws.processing.iterdir()) == []
    assert [p for p in ws.intake.rglob("*") if p.is_file()] == []
    stored = _stored(ws)
    assert set(stored) == {INVOICE, "empty.pdf"}
    record = json.loads((ws.failed / "empty.pdf.error.json").read_text())
    assert record["stage"] == "load" and record["code"] == "empty_file" and record["attempts"] == 1
    assert record["reason"] and record["hint"] and record["time"]


def test_store_holds_the_extracted_invoice(processed, samples: Path) -> None:
    ws, _ = processed
    gt = json.loads((samples / "invoice_en_gb.gt.json").read_text())["fields_normalized"]
    doc = _stored(ws)[INVOICE].result
    assert doc.doc_type == "invoice"
    assert doc.source_path == f"done/{INVOICE}"
    for name in ("invoice_number", "date", "due_date", "total_amount", "net_amount", "tax_amount", "currency", "iban"):
        assert doc.data[name] == gt[name], name
    engine = doc.provenance["engine"]  # replayed, and it says so, with the engine that answered
    assert engine["engine"] == "replay" and engine["recorded"]["engine"] == "ocr"
    assert {"load", "classify", "extract", "validate"} <= set(doc.timings)


def test_workbook_cells_for_the_invoice(processed, samples: Path) -> None:
    from ledgerlens.pipeline.books.store import Store
    from ledgerlens.pipeline.export.xlsx import export_xlsx

    ws, _ = processed
    gt = json.loads((samples / "invoice_en_gb.gt.json").read_text())["fields_normalized"]
    store = Store.for_workspace(ws.root)
    docs = store.all()
    store.close()
    out = export_xlsx(docs, ws.exports / "ledger.xlsx", workspace_root=ws.root)
    wb = load_workbook(out)
    assert wb.sheetnames == ["Invoices", "Line items", "Receipts", "Statements", "Transactions", "Review"]
    sheet = wb["Invoices"]
    header = [c.value for c in sheet[1]]
    row = {h: c for h, c in zip(header, sheet[2], strict=True)}
    assert sheet.max_row == 2  # the failed document is not an invoice row
    assert row["source_file"].value == INVOICE
    assert row["source_file"].hyperlink.target == f"../done/{INVOICE}"
    assert row["invoice_number"].value == gt["invoice_number"] and row["invoice_number"].data_type == "s"
    assert row["date"].value.date() == date.fromisoformat(gt["date"])
    assert row["date"].number_format == "yyyy-mm-dd"
    assert Decimal(str(row["total_amount"].value)) == Decimal(gt["total_amount"])
    assert row["total_amount"].number_format.startswith("#,##0.00")
    assert row["currency"].value == gt["currency"]
    assert sheet.freeze_panes and sheet.auto_filter.ref
    items = wb["Line items"]
    assert items.max_row - 1 == len(gt["line_items"])
    review = [[c.value for c in r] for r in wb["Review"].iter_rows(min_row=2)]
    assert any(r[1] == "empty.pdf" and r[3] == "failed" for r in review)


def test_prefect_shows_the_failed_document_by_name(processed) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterName

    name = "empty.pdf"  # one task run per document, named after the file
    deadline = time.monotonic() + 30
    runs = []
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            runs = client.read_task_runs(task_run_filter=TaskRunFilter(name=TaskRunFilterName(any_=[name])))
            if runs and runs[0].state and runs[0].state.is_final():
                break
            time.sleep(0.5)
    assert runs, "the task run of the failed document is not in the Prefect API"
    state = runs[0].state
    assert state.is_failed()
    assert "empty" in state.message and "0 bytes" in state.message
