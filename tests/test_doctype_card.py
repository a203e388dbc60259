"""A document type is one card: a workspace drops `schemas/purchase_order.schema.json` and gets
classification, the ocr engine's fields, validation, model prompts, a sheet, a CSV and an intake
folder — with no line of ledgerlens naming the type."""

from __future__ import annotations

import csv
import json
import shutil
from decimal import Decimal
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest
from fixtures.samples.purchase_order import LINES, TRUTH, purchase_order_pdf
from ledgerlens.pipeline.books.store import Store
from ledgerlens.pipeline.chain import Context, process_file
from ledgerlens.pipeline.config import Config
from ledgerlens.pipeline.doctypes.card import CARD_KEY
from ledgerlens.pipeline.doctypes.schemas import load_schemas
from ledgerlens.pipeline.engines.model.prompts import load_prompt, start
from ledgerlens.pipeline.errors import ConfigError
from ledgerlens.pipeline.export.csv import export_csv
from ledgerlens.pipeline.export.xlsx import export_xlsx
from ledgerlens.pipeline.intake.watcher import folder_hints
from ledgerlens.pipeline.intake.workspace import init_workspace
from ledgerlens.pipeline.types import Status
from openpyxl import load_workbook

CARD = Path(__file__).parent / "fixtures" / "doctypes" / "purchase_order.schema.json"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Any:
    ws = init_workspace(tmp_path_factory.mktemp("po") / "books")
    ws.schemas_dir.mkdir(exist_ok=True)
    shutil.copy(CARD, ws.schemas_dir / CARD.name)
    return ws


@pytest.fixture(scope="module")
def result(workspace: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    pdf = tmp_path_factory.mktemp("po-in") / "po-0042.pdf"
    pdf.write_bytes(purchase_order_pdf())
    return process_file(pdf, Context.create(Config(), workspace.schemas_dir))


def test_no_code_names_the_type() -> None:
    """The type lives in its card alone: the installed package never says `purchase_order`."""
    for package in ("ledgerlens.pipeline", "ledgerlens.flows", "ledgerlens.commands"):
        spec = find_spec(package)
        assert spec is not None and spec.submodule_search_locations
        for folder in spec.submodule_search_locations:
            for path in Path(folder).rglob("*.py"):
                assert "purchase_order" not in path.read_text(encoding="utf-8"), path


def test_the_card_classifies_and_reads_the_document(result: Any) -> None:
    assert result.doc_type == "purchase_order"
    assert result.status is Status.OK, [i.message for i in result.issues]
    assert {k: result.data.get(k) for k in TRUTH} == TRUTH
    items = [(i["description"], Decimal(i["quantity"]), Decimal(i["unit_price"])) for i in result.data["line_items"]]
    assert items == LINES
    assert result.provenance["schema"]["doc_type"] == "purchase_order"


def test_validation_uses_the_schema_and_the_cards_key_fields(workspace: Any) -> None:
    from ledgerlens.pipeline.check.validate import validate

    schema = load_schemas(workspace.schemas_dir)["purchase_order"]
    issues = validate({"po_number": "PO-1", "net_amount": "10.00", "tax_amount": "2.00", "total_amount": "13.00"},
                      "purchase_order", schema)  # fmt: skip
    assert {i.code for i in issues} == {"missing_field", "totals_mismatch"}
    assert [i.field for i in issues if i.code == "missing_field"] == ["date"]
    assert [i.code for i in validate({"po_number": 7}, "purchase_order", schema)] == ["schema_violation"]


def test_model_prompts_name_the_type_and_describe_its_fields(workspace: Any) -> None:
    schema = load_schemas(workspace.schemas_dir)["purchase_order"]
    conversation = start(load_prompt("extract-v1"), "qwen2_vl", schema, 1)
    text = conversation.messages[-1]["content"][-1]["text"]
    assert "Extract the fields of this purchase order" in text
    assert "po_number (the purchase order's number)" in text
    assert "delivery_date (when the goods are due; YYYY-MM-DD)" in text
    assert CARD_KEY not in json.dumps(schema.bundled())  # the grammar never sees the card


def test_the_workbook_and_the_csv_files_get_its_sheets(workspace: Any, result: Any, tmp_path: Path) -> None:
    store = Store.for_workspace(workspace.root)
    try:
        store.save(result)
        docs = store.all()
    finally:
        store.close()
    book = export_xlsx(docs, tmp_path / "ledger.xlsx", workspace_root=workspace.root)
    wb = load_workbook(book)
    assert {"Purchase orders", "PO lines"} <= set(wb.sheetnames)
    header = [c.value for c in wb["Purchase orders"][1]]
    assert header[4:7] == ["po_number", "date", "delivery_date"]
    lines = list(wb["PO lines"].iter_rows(values_only=True))
    assert lines[0][2] == "po_number" and [row[2] for row in lines[1:]] == [TRUTH["po_number"]] * 3
    files = {p.name: p for p in export_csv(docs, tmp_path / "csv", workspace_root=workspace.root)}
    with files["purchase_orders.csv"].open(encoding="utf-8-sig", newline="") as f:
        (row,) = list(csv.DictReader(f))
    assert row["po_number"] == TRUTH["po_number"] and row["total_amount"] == TRUTH["total_amount"]
    assert "purchase_order_lines.csv" in files


def test_its_intake_folder_chooses_the_type(workspace: Any) -> None:
    schemas = load_schemas(workspace.schemas_dir)
    assert folder_hints("purchase-orders/2026", schemas) == ("purchase_order", ["2026"])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"colour": "red"}, r"unknown key\(s\) in x-ledgerlens: colour"),
        ({"key_fields": ["po_numbr"]}, r"key_fields: 'po_numbr' is not a field of this schema"),
        ({"labels": {"po_numbr": {"strong": {"en": ["po"]}}}}, r"'po_numbr' is neither a field"),
        ({"finder": "magic"}, r"finder must be one of labels, invoice, receipt, statement"),
        ({"cues": {"en": [["purchase order", "high"]]}}, r"each cue is \[phrase, weight\]"),
        ({"export": {"sheet": "POs", "tab": "x"}}, r"export: unknown key\(s\) tab"),
    ],
)
def test_a_broken_card_is_a_clear_error_naming_the_file(tmp_path: Path, change: dict[str, Any], message: str) -> None:
    card = json.loads(CARD.read_text(encoding="utf-8"))
    card[CARD_KEY] = {**card[CARD_KEY], **change}
    (tmp_path / CARD.name).write_text(json.dumps(card), encoding="utf-8")
    with pytest.raises(ConfigError, match=message) as e:
        load_schemas(tmp_path)
    assert str(tmp_path / CARD.name) in str(e.value)
