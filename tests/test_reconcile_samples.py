"""The reconciliation on the generated documents, read by the default engine: every payment of a
generated invoice (and the receipt paid by card) matched to it, and no false match."""

from __future__ import annotations

import json

import pytest
from fixtures.generate import generate
from ledgerlens.pipeline.books.payments import match_rows
from ledgerlens.pipeline.books.reconcile import reconcile
from ledgerlens.pipeline.books.store import Store
from ledgerlens.pipeline.chain import process_file

PAID = ["invoice_de", "invoice_fr", "invoice_es", "invoice_de_2pages", "credit_note_en_ie", "receipt_de_supermarket"]
OPEN = ["invoice_en_gb", "invoice_en_us"]


@pytest.fixture(scope="module")
def read(tmp_path_factory: pytest.TempPathFactory, context) -> tuple[Store, dict]:
    folder = tmp_path_factory.mktemp("payments")
    generate(folder, seed=0, scans=False, only=[*PAID, *OPEN, "statement_de_payments"])
    store = Store.for_workspace(folder)
    for pdf in sorted(folder.glob("*.pdf")):
        store.save(process_file(pdf, context))
    gt = json.loads((folder / "statement_de_payments.gt.json").read_text(encoding="utf-8"))
    yield store, gt
    store.close()


def test_every_generated_payment_is_matched_and_nothing_else(read) -> None:
    store, gt = read
    rec = reconcile(store.all())
    rows = match_rows(rec, {"invoice": "bill", "receipt": "paid"})
    expected = {(p["row"], p["document"]) for p in gt["generator"]["payments"]}
    confident = {(r.line_index, r.document) for r in rows if r.status in ("matched", "partial")}
    assert confident == expected
    by_doc = {i.doc.result.source_name: i for i in rec.items}
    for name in PAID:
        assert by_doc[f"{name}.pdf"].open == 0, name  # paid in full (the 2-page invoice in two parts)
    for name in OPEN:
        assert by_doc[f"{name}.pdf"].open > 0, name
    statuses = [r.status for r in rows if r.line_index in {p["row"] for p in gt["generator"]["payments"]}]
    assert statuses.count("partial") == 1  # the first of the two instalments
