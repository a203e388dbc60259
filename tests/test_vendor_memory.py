"""The vendor memory: one correction teaches a workspace how a vendor prints its fields.

The documents are born-digital PDFs drawn here (text layer: no OCR, so the tests take seconds) by
a made-up shop whose layout defeats the general finder: a welcome line printed bigger than the
shop's name, and its total under a label no lexicon knows ("Jumlah Bayaran") beside a larger
cash line.
"""

from __future__ import annotations

import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from ledgerlens.pipeline.books.review import Correction, apply_corrections
from ledgerlens.pipeline.books.store import Store
from ledgerlens.pipeline.books.vendors import StoreVendorMemory, workspace_key
from ledgerlens.pipeline.chain import process_file
from ledgerlens.pipeline.config import Config
from ledgerlens.pipeline.engines.memory import NameIndex, Placement, merge_placements, name_key
from ledgerlens.pipeline.intake.jobs import worker_context
from ledgerlens.pipeline.intake.workspace import init_workspace
from reportlab.pdfgen.canvas import Canvas

from ledgerlens.cli import main

SHOP = "KEDAI RUNCIT SERI MAJU"


def draw_receipt(path: Path, *, day: str, items: list[tuple[str, str]], cash: str, number: str) -> Decimal:
    """A till receipt of the shop; returns its total."""
    total = sum((Decimal(a) for _, a in items), Decimal(0))
    buf = io.BytesIO()
    w, h = 226.0, 480.0  # an 80 mm till roll
    c = Canvas(buf, pagesize=(w, h), invariant=1)
    y = h - 30
    for text, size in (("SELAMAT DATANG", 15), (SHOP, 8), ("LOT 12 JALAN MAWAR 3", 7),
                       ("43000 KAJANG SELANGOR", 7), ("TEL 03-87341234  GST NO 001122334455", 7)):  # fmt: skip
        c.setFont("Helvetica-Bold" if size > 8 else "Helvetica", size)
        c.drawString(20, y, text)
        y -= size + 6
    c.setFont("Helvetica", 7)
    c.drawString(20, y, f"Receipt {number}  Cashier: ANI")
    c.drawRightString(w - 20, y, day)
    y -= 20
    for name, amount in items:
        c.drawString(20, y, name)
        c.drawRightString(w - 20, y, amount)
        y -= 11
    y -= 6
    for label, value in (("Jumlah Bayaran", f"{total:.2f}"), ("Tunai", cash), ("Baki", f"{Decimal(cash) - total:.2f}")):
        c.drawString(20, y, label)
        c.drawRightString(w - 20, y, value)
        y -= 11
    c.drawString(20, y - 10, "Terima kasih / Thank you")
    c.save()
    path.write_bytes(buf.getvalue())
    return total


@pytest.fixture
def books(tmp_path: Path):
    ws = init_workspace(tmp_path / "books")
    store = Store.for_workspace(ws.root)
    yield ws, store
    store.close()


def _receipts(folder: Path) -> list[tuple[Path, Decimal, str]]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i, (day, iso, items, cash) in enumerate(
        [("03/05/2024", "2024-05-03", [("GULA 1KG", "3.20"), ("BERAS 5KG", "18.90")], "50.00"),
         ("17/06/2024", "2024-06-17", [("MINYAK 2KG", "11.40"), ("TELUR 10", "4.35"), ("ROTI", "2.80")], "20.00")]
    ):  # fmt: skip
        path = folder / f"receipt-{i}.pdf"
        total = draw_receipt(path, day=day, items=items, cash=cash, number=f"A{1000 + i}")
        out.append((path, total, iso))
    return out


def _correct(ws, store: Store, path: Path, fields: dict[str, str]) -> None:
    ctx = worker_context(ws, Config(), store)
    result = process_file(path, ctx)
    result.source_path = str(path)
    doc_id = store.save(result)
    corrections = [Correction(i, doc_id, k, v, "corrected") for i, (k, v) in enumerate(fields.items())]
    report = apply_corrections(store, corrections, ctx.schemas, user="tester", workspace_root=ws.root, source="t")
    assert report.taught == [SHOP], report.not_taught


def test_one_correction_teaches_the_vendor(books, tmp_path: Path) -> None:
    ws, store = books
    (first, total_1, day_1), (second, total_2, day_2) = _receipts(tmp_path / "docs")
    ctx = worker_context(ws, Config(), store)
    before = process_file(second, ctx)
    assert before.data.get("vendor_name") != SHOP or Decimal(before.data.get("total_amount", "0")) != total_2

    _correct(ws, store, first, {"vendor_name": SHOP, "total_amount": f"{total_1:.2f}", "date": day_1})

    after = process_file(second, worker_context(ws, Config(), store))
    assert after.data["vendor_name"] == SHOP
    assert Decimal(after.data["total_amount"]) == total_2
    assert after.data["date"] == day_2
    memory = after.provenance["vendor_memory"]
    assert memory["vendor"] == SHOP and {"total_amount", "vendor_name"} <= set(memory["fields"])
    assert after.provenance["fields"]["total_amount"]["source"] == f"memory:{SHOP}"


def test_forgetting_and_other_workspaces(books, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws, store = books
    (first, total_1, day_1), (second, _, _) = _receipts(tmp_path / "docs")
    _correct(ws, store, first, {"vendor_name": SHOP, "total_amount": f"{total_1:.2f}", "date": day_1})

    other = init_workspace(tmp_path / "other")
    other_store = Store.for_workspace(other.root)
    try:
        assert StoreVendorMemory(other_store, workspace_key(other.root)).vendors() == []
        unseen = process_file(second, worker_context(other, Config(), other_store))
        assert "vendor_memory" not in unseen.provenance
    finally:
        other_store.close()
    # One database for two workspaces (a shared PostgreSQL URL): each sees its own vendors only.
    assert StoreVendorMemory(store, "/somewhere/else").vendors() == []

    assert main(["vendors", "list", "--workspace", str(ws.root)]) == 0
    assert SHOP in capsys.readouterr().out
    assert main(["vendors", "forget", SHOP, "--workspace", str(ws.root)]) == 0
    assert StoreVendorMemory(store, workspace_key(ws.root)).vendors() == []
    again = process_file(second, worker_context(ws, Config(), store))
    assert "vendor_memory" not in again.provenance
    assert main(["vendors", "forget", SHOP, "--workspace", str(ws.root)]) == 1


def test_review_correct_command_teaches_and_show_says_so(books, tmp_path: Path, capsys) -> None:
    ws, store = books
    (first, total_1, day_1), (second, total_2, _) = _receipts(tmp_path / "docs")
    result = process_file(first, worker_context(ws, Config(), store))
    result.source_path = str(first)
    store.save(result)
    fields = tmp_path / "fix.json"
    fields.write_text(json.dumps({"vendor_name": SHOP, "total_amount": f"{total_1:.2f}", "date": day_1}))
    assert main(["review", "correct", first.name, "--fields", str(fields), "--workspace", str(ws.root)]) == 0
    assert "Vendor memory learned from: " + SHOP in capsys.readouterr().out

    later = process_file(second, worker_context(ws, Config(), store))
    later.source_path = str(second)
    store.save(later)
    assert main(["show", second.name, "--workspace", str(ws.root)]) == 0
    out = capsys.readouterr().out
    assert f"Vendor memory: {SHOP}" in out and "total_amount" in out and Decimal(later.data["total_amount"]) == total_2


def test_name_index_finds_ocr_variants_among_many() -> None:
    index = NameIndex([(name_key(f"VENDOR NUMBER {i} TRADING SDN BHD"), i) for i in range(1000)])
    index = NameIndex([*((k, v) for k, v, _ in index.keys), (name_key("SANYU STATIONERY SHOP"), 5000)])
    assert index.best(["SANYU STATI0NERY SH0P"]) == (5000, pytest.approx(0.9, abs=0.1))
    assert index.best(["SOMETHING ELSE ENTIRELY"]) is None


def test_places_seen_again_count_up() -> None:
    p = Placement("jumlah bayaran", "right", 0, 0.8, 0.7, 2.0, "99.9")
    q = Placement("tunai", "right", 0, 0.8, 0.75, 1.0, "99.9", rank=0)
    merged = merge_placements(merge_placements((), [p, q]), [p])
    assert [(m.anchor, m.seen) for m in merged] == [("jumlah bayaran", 2), ("tunai", 1)]


def test_eval_learn_marks_seen_vendors_and_reads_them_from_memory(tmp_path: Path) -> None:
    from ledgerlens.pipeline.measure.evaluate import evaluate_datasets

    folder = tmp_path / "labelled"
    for path, total, day in _receipts(folder):
        (folder / f"{path.name}.json").write_text(
            json.dumps({"doc_type": "receipt", "vendor_name": SHOP, "total_amount": f"{total:.2f}", "date": day})
        )
    report = evaluate_datasets([folder], Config(), out=tmp_path / "report", learn=True)
    rows = [json.loads(line) for line in (tmp_path / "report" / "predictions.jsonl").read_text().splitlines()]
    assert [r["seen_vendor"] for r in rows] == [False, True]  # file-name order; only the first was taught
    assert rows[0]["fields"]["total_amount"] != "22.10"  # the general finder takes the cash line
    assert rows[1]["fields"]["total_amount"] == "18.55" and rows[1]["fields"]["vendor_name"] == SHOP
    seen = {r["field"]: r for r in report.table(None, "seen-before")}
    assert seen["total_amount"]["hits"] == seen["vendor_name"]["hits"] == 1
    assert "seen-before" in (tmp_path / "report" / "report.md").read_text()
