"""Exporters: the review workbook and the CSV files, read back the way a user's tools read them."""

from __future__ import annotations

import csv
import json
import re
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from ledgerlens.pipeline.books.store import Store, StoredDocument
from ledgerlens.pipeline.export.csv import export_csv
from ledgerlens.pipeline.export.safe import escape_text, is_formula_like
from ledgerlens.pipeline.export.xlsx import export_xlsx
from ledgerlens.pipeline.types import DocumentResult, Issue, Severity, Status
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

HYPERLINK = '=HYPERLINK("http://x","y")'
CMD = "+cmd|' /C calc'!A0"
SHEETS = ["Invoices", "Line items", "Receipts", "Statements", "Transactions", "Review"]
INVOICE_FIELDS = [
    "document_subtype", "invoice_number", "date", "due_date", "payment_terms", "vendor_name", "vendor_address",
    "vendor_vat_id", "vendor_tax_number", "buyer_name", "buyer_address", "buyer_vat_id",
    "buyer_reference", "order_number", "currency", "iban", "bic", "vat_rate", "line_total_amount",
    "net_amount", "tax_amount", "total_amount", "prepaid_amount", "amount_due", "tax_breakdown",
    # EN 16931 fields that XML e-invoices fill (schema order)
    "document_type_code", "delivery_date", "billing_period_start", "billing_period_end", "contract_reference",
    "preceding_invoice_number", "vendor_country", "buyer_country", "vendor_electronic_address",
    "buyer_electronic_address", "payment_means_code", "payment_reference",
    "allowance_total_amount", "charge_total_amount", "rounding_amount", "allowances_charges",
]  # fmt: skip
LINE_ITEM_HEAD = ["id", "source_file", "doc_type", "document_number", "item_index"]
LINE_ITEM_FIELDS = ["description", "quantity", "unit", "unit_price", "tax_rate", "amount", "line_id", "tax_category"]
REVIEW_HEAD = [
    "id", "source_file", "doc_type", "status", "field", "extracted_value", "severity", "code",
    "reason", "confidence", "page", "corrected_value", "review_status",
]  # fmt: skip


def _result(sha: str, name: str, doc_type: str, status: Status, data: dict, **kw) -> DocumentResult:
    return DocumentResult(
        sha256=sha * 64, source_name=name, media_type="application/pdf", page_count=1,
        doc_type=doc_type, status=status, data=data, issues=kw.get("issues", []),
        confidence=kw.get("confidence", {}), provenance={}, timings={}, source_path=kw.get("path"),
    )  # fmt: skip


def _results(ws_root: Path, outside: Path) -> list[DocumentResult]:
    done = ws_root / "done"
    invoice = {
        "document_subtype": "invoice", "invoice_number": "INV-1", "date": "2025-03-03",
        "due_date": "2025-04-02", "vendor_name": HYPERLINK, "buyer_name": "\rBuyer Ltd",
        "currency": "EUR", "vat_rate": "19.00", "net_amount": "1037.44", "tax_amount": "197.12",
        "total_amount": "1234.56",
        "tax_breakdown": [
            {"category": "S", "rate": "19.00", "basis_amount": "1000.00", "tax_amount": "190.00"},
            {"category": "AA", "rate": "7.00", "basis_amount": "37.44", "tax_amount": "2.62"},
        ],
        "line_items": [
            {"description": CMD, "quantity": "2", "unit": "box", "unit_price": "500.00", "amount": "1000.00"},
            {"description": "@SUM(A1:A2)", "quantity": "1.5", "unit_price": "24.96", "amount": "37.44"},
        ],
    }  # fmt: skip
    receipt = {
        "vendor_name": "-1+1", "receipt_number": "R-7", "date": "2025-03-05", "time": "14:05",
        "currency": "EUR", "total_amount": "0.14", "payment_method": "\tTAB",
        "line_items": [{"description": "#N/A", "quantity": "2", "unit_price": "0.07", "amount": "0.14"}],
    }  # fmt: skip
    statement = {
        "bank_name": "Example Bank", "iban": "DE89370400440532013000", "currency": "EUR",
        "period_start": "2025-03-01", "period_end": "2025-03-31",
        "opening_balance": "1000.00", "closing_balance": "880.50",
        "transactions": [
            {"date": "2025-03-03", "description": "Card payment", "amount": "-119.50", "balance": "880.50"},
            {"date": "2025-03-04", "description": "=1+1", "amount": "0.00", "balance": "880.50"},
        ],
    }  # fmt: skip
    review = {
        "invoice_number": "INV-2", "vendor_name": "Shady Supplies", "net_amount": "100.00",
        "tax_amount": "19.00", "total_amount": "120.00", "prepaid_amount": "-1+1",
        "line_items": [{"description": "Service", "amount": "100.00"}], "zz_note": "kept",
    }  # fmt: skip
    issues = [
        Issue("validate", "total_mismatch", Severity.ERROR, "net + tax is 119.00, total is 120.00", 1,
              "total_amount"),
        Issue("validate", "line_sum", Severity.WARNING, "line items do not add up", 1,
              "line_items[0].amount"),
    ]  # fmt: skip
    fatal = [Issue("load", "corrupt_pdf", Severity.FATAL, "file is not a valid PDF")]
    return [
        _result("a", "inv 1.pdf", "invoice", Status.OK, invoice, path=str(done / "inv 1.pdf"),
                confidence={"total_amount": 0.99, "date": 0.8}),
        _result("b", "receipt.jpg", "receipt", Status.OK, receipt, path=str(done / "receipt.jpg")),
        _result("c", "stmt.pdf", "bank_statement", Status.OK, statement, path=str(outside / "stmt.pdf")),
        _result("d", "=review.pdf", "invoice", Status.NEEDS_REVIEW, review, issues=issues,
                path=str(done / "=review.pdf"),
                confidence={"total_amount": 0.9, "vendor_name": 0.3, "line_items[0].amount": 0.2}),
        _result("e", "bad.pdf", "unknown", Status.FAILED, {}, issues=fatal,
                path=str(ws_root / "failed" / "bad.pdf")),
    ]  # fmt: skip


@dataclass
class Exported:
    docs: list[StoredDocument]
    root: Path
    xlsx: Path
    csvs: list[Path]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Exported:
    tmp = tmp_path_factory.mktemp("export")
    root = tmp / "ws"
    store = Store(f"sqlite:///{tmp}/t.db")
    for r in _results(root, tmp / "elsewhere"):
        store.save(r)
    docs = store.all()
    store.close()
    xlsx = export_xlsx(docs, root / "exports" / "ledger.xlsx", workspace_root=root)
    csvs = export_csv(docs, root / "exports" / "csv", workspace_root=root)
    return Exported(docs, root, xlsx, csvs)


def _rows(ws: Worksheet) -> list[dict]:
    """Data rows as {header: cell}."""
    header = [c.value for c in ws[1]]
    return [dict(zip(header, row, strict=True)) for row in ws.iter_rows(min_row=2, max_col=len(header))]


def _headers(ws: Worksheet) -> list[str]:
    return [c.value for c in ws[1] if c.value is not None]


def _sheet_xml(path: Path, index: int) -> str:
    with zipfile.ZipFile(path) as z:
        return z.read(f"xl/worksheets/sheet{index}.xml").decode()


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


# --- escape_text -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", [HYPERLINK, CMD, "@SUM(A1:A2)", "-1+1", "+49 30 1234", "\tTAB", "\rX", " =1+1", "\n@x", "＝1+1"]
)
def test_formula_like_text_gets_a_quote(text: str) -> None:
    assert is_formula_like(text)
    assert escape_text(text) == "'" + text
    assert escape_text(escape_text(text)) == escape_text(text)


@pytest.mark.parametrize("text", ["", "   ", "ACME GmbH", "1+1", "it's -5", "'=already", "#N/A"])
def test_plain_text_is_left_alone(text: str) -> None:
    assert escape_text(text) == text


# --- workbook --------------------------------------------------------------------------------


def test_workbook_has_the_sheets_in_order(exported: Exported) -> None:
    assert load_workbook(exported.xlsx).sheetnames == SHEETS


def test_headers_follow_the_schema_with_unknown_keys_last(exported: Exported) -> None:
    wb = load_workbook(exported.xlsx)
    doc_columns = ["id", "source_file", "status", "issue_count"]
    assert _headers(wb["Invoices"]) == [*doc_columns, *INVOICE_FIELDS, "zz_note"]
    assert _headers(wb["Line items"]) == [*LINE_ITEM_HEAD, *LINE_ITEM_FIELDS]
    assert _headers(wb["Transactions"]) == ["id", "source_file", "iban", "item_index", "date", "description",
                                            "amount", "balance", "account", "invoice_number"]  # fmt: skip
    assert _headers(wb["Review"]) == [*REVIEW_HEAD, "Legend"]
    assert all(c.font.bold for c in wb["Invoices"][1])


def test_rows_per_sheet_leave_failed_documents_to_review(exported: Exported) -> None:
    wb = load_workbook(exported.xlsx)
    assert [r["id"].value for r in _rows(wb["Invoices"])] == [1, 4]
    assert [(r["id"].value, r["item_index"].value) for r in _rows(wb["Line items"])] == [
        (1, 0), (1, 1), (2, 0), (4, 0)
    ]  # fmt: skip
    assert [r["document_number"].value for r in _rows(wb["Line items"])] == ["INV-1", "INV-1", "R-7", "INV-2"]
    assert [r["id"].value for r in _rows(wb["Receipts"])] == [2]
    assert [r["iban"].value for r in _rows(wb["Transactions"])] == ["DE89370400440532013000"] * 2


def test_dates_are_date_cells(exported: Exported) -> None:
    inv = _rows(load_workbook(exported.xlsx)["Invoices"])[0]
    assert inv["date"].is_date and inv["date"].value == datetime(2025, 3, 3)
    assert inv["date"].number_format == "yyyy-mm-dd"
    assert inv["due_date"].value == datetime(2025, 4, 2)


def test_amounts_are_exact_numbers(exported: Exported) -> None:
    wb = load_workbook(exported.xlsx)
    inv = _rows(wb["Invoices"])[0]
    assert inv["total_amount"].data_type == "n" and inv["total_amount"].value == 1234.56
    assert inv["total_amount"].number_format == "#,##0.00"
    assert inv["vat_rate"].value == 19 and inv["vat_rate"].number_format == "#,##0.00"
    items = _rows(wb["Line items"])
    assert items[1]["quantity"].value == 1.5 and items[1]["quantity"].number_format == "#,##0.0"
    assert items[0]["quantity"].value == 2 and items[0]["quantity"].number_format == "#,##0"
    tx = _rows(wb["Transactions"])[0]
    assert tx["amount"].value == -119.5 and tx["amount"].number_format == "#,##0.00"
    # The XML holds the decimal as written, not a float's "%.16g" (0.07 -> 0.07000000000000001).
    total = inv["total_amount"].coordinate
    assert re.search(rf'<c r="{total}"[^>]*><v>1234.56</v>', _sheet_xml(exported.xlsx, 1))
    assert "<v>0.07</v>" in _sheet_xml(exported.xlsx, 2)
    assert "<v>-119.50</v>" in _sheet_xml(exported.xlsx, 5)


def test_tax_breakdown_is_one_compact_column(exported: Exported) -> None:
    inv = _rows(load_workbook(exported.xlsx)["Invoices"])[0]
    assert inv["tax_breakdown"].value == "S 19.00%: 1000.00 → 190.00; AA 7.00%: 37.44 → 2.62"


def test_an_amount_that_is_not_a_number_stays_escaped_text(exported: Exported) -> None:
    inv = _rows(load_workbook(exported.xlsx)["Invoices"])[1]
    assert inv["prepaid_amount"].value == "'-1+1" and inv["prepaid_amount"].data_type == "s"


def test_no_cell_is_a_formula_and_every_text_is_escaped(exported: Exported) -> None:
    wb = load_workbook(exported.xlsx)
    texts = []
    for ws in wb:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", cell.coordinate
                if isinstance(cell.value, str):
                    assert cell.data_type == "s", (ws.title, cell.coordinate)
                    assert not is_formula_like(cell.value), (ws.title, cell.coordinate, cell.value)
                    texts.append(cell.value)
    for attack in (HYPERLINK, CMD, "@SUM(A1:A2)", "-1+1", "\tTAB", "=1+1", "=review.pdf"):
        assert "'" + attack in texts, attack
    assert "'\nBuyer Ltd" in texts  # escaped for its CR, which XML keeps only as a line feed
    assert "#N/A" in texts  # a string, not Excel's error value


def test_header_is_frozen_and_filtered(exported: Exported) -> None:
    wb = load_workbook(exported.xlsx)
    for title, rows, last in [("Invoices", 2, "AT"), ("Line items", 4, "M"), ("Review", 4, "M")]:
        ws = wb[title]
        assert ws.freeze_panes == "C2"
        assert ws.auto_filter.ref == f"A1:{last}{rows + 1}"
    widths = [d.width for d in wb["Invoices"].column_dimensions.values()]
    assert widths and all(8 <= w <= 60 for w in widths)


def test_source_file_links_to_the_document(exported: Exported) -> None:
    wb = load_workbook(exported.xlsx)
    invoices = _rows(wb["Invoices"])
    assert invoices[0]["source_file"].hyperlink.target == "../done/inv%201.pdf"
    assert invoices[1]["source_file"].hyperlink.target == "../done/%3Dreview.pdf"
    stmt = _rows(wb["Statements"])[0]["source_file"]
    outside = Path(exported.root.parent / "elsewhere" / "stmt.pdf").resolve()
    assert stmt.hyperlink.target == outside.as_uri()
    assert _rows(wb["Line items"])[0]["source_file"].hyperlink.target == "../done/inv%201.pdf"


def test_low_confidence_cells_are_highlighted(exported: Exported) -> None:
    wb = load_workbook(exported.xlsx)
    low = _rows(wb["Invoices"])[1]
    assert low["vendor_name"].fill.fgColor.rgb == "FFFFEB9C"
    assert low["total_amount"].fill.fill_type is None
    assert _rows(wb["Line items"])[3]["amount"].fill.fgColor.rgb == "FFFFEB9C"
    legend = wb["Review"]["O2"]
    assert legend.value == "field confidence below 0.50" and legend.fill.fgColor.rgb == "FFFFEB9C"


def test_review_lists_issues_low_confidence_and_failures(exported: Exported) -> None:
    ws = load_workbook(exported.xlsx)["Review"]
    rows = _rows(ws)
    seen = [(r["id"].value, r["field"].value, r["code"].value, r["severity"].value) for r in rows]
    assert seen == [
        (4, "total_amount", "total_mismatch", "error"),
        (4, "line_items[0].amount", "line_sum", "warning"),
        (4, "vendor_name", "low_confidence", "warning"),
        (5, None, "corrupt_pdf", "fatal"),
    ]
    total, line, vendor, failed = rows
    assert total["extracted_value"].value == 120 and total["extracted_value"].number_format == "#,##0.00"
    assert total["reason"].value == "net + tax is 119.00, total is 120.00" and total["page"].value == 1
    assert total["confidence"].value == 0.9
    assert line["extracted_value"].value == 100 and line["extracted_value"].fill.fgColor.rgb == "FFFFEB9C"
    assert vendor["extracted_value"].value == "Shady Supplies" and vendor["confidence"].value == 0.3
    assert failed["reason"].value == "file is not a valid PDF" and failed["status"].value == "failed"
    assert failed["doc_type"].value == "unknown"
    assert failed["source_file"].hyperlink.target == "../failed/bad.pdf"
    assert all(r["corrected_value"].value is None and r["review_status"].value is None for r in rows)
    (choices,) = ws.data_validations.dataValidation
    assert choices.formula1 == '"open,accepted,corrected"' and str(choices.sqref) == "M2:M5"


def test_workbook_is_a_function_of_the_documents(exported: Exported) -> None:
    again = export_xlsx(exported.docs, exported.xlsx.with_name("again.xlsx"), workspace_root=exported.root)
    assert again.read_bytes() == exported.xlsx.read_bytes()
    props = load_workbook(again).properties
    newest = max(d.updated_at for d in exported.docs).replace(tzinfo=None, microsecond=0)
    assert props.modified == props.created == newest


def test_threshold_is_a_parameter(tmp_path: Path, exported: Exported) -> None:
    path = export_xlsx(exported.docs, tmp_path / "strict.xlsx", review_confidence=0.95)
    wb = load_workbook(path)
    seen = [(r["id"].value, r["field"].value) for r in _rows(wb["Review"])]
    assert seen == [
        (1, "date"), (4, "total_amount"), (4, "line_items[0].amount"), (4, "vendor_name"), (5, None)
    ]  # fmt: skip
    assert _rows(wb["Invoices"])[0]["date"].fill.fgColor.rgb == "FFFFEB9C"
    assert wb["Review"]["O2"].value == "field confidence below 0.95"


def test_workspace_schema_fields_take_their_place(tmp_path: Path) -> None:
    packaged = Path(__file__).parents[1] / "schemas" / "invoice.schema.json"
    schema = json.loads(packaged.read_text(encoding="utf-8"))
    props = schema["properties"]
    schema["properties"] = {"cost_center": {"type": "string"}, **props}
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "invoice.schema.json").write_text(json.dumps(schema), encoding="utf-8")
    doc = StoredDocument(
        1, _result("f", "x.pdf", "invoice", Status.OK, {"cost_center": "K-100", "invoice_number": "9"}),
        1, datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 3, 2, 8, 30, tzinfo=UTC),
    )  # fmt: skip
    path = export_xlsx([doc], tmp_path / "ws.xlsx", workspace_root=tmp_path)
    wb = load_workbook(path)
    assert _headers(wb["Invoices"])[4:6] == ["cost_center", "document_subtype"]
    assert wb.properties.modified == datetime(2025, 3, 2, 8, 30)
    folder = tmp_path / "csv"
    export_csv([doc], folder, workspace_root=tmp_path)
    assert _csv(folder / "invoices.csv")[0]["cost_center"] == "K-100"


def test_no_documents_still_gives_every_sheet_with_headers(tmp_path: Path) -> None:
    wb = load_workbook(export_xlsx([], tmp_path / "empty.xlsx"))
    assert wb.sheetnames == SHEETS
    assert _headers(wb["Review"])[:13] == REVIEW_HEAD and wb["Review"].max_row == 2  # legend only
    assert wb.properties.modified == datetime(2000, 1, 1)


# --- CSV -------------------------------------------------------------------------------------


def test_csv_files_and_headers_match_the_sheets(exported: Exported) -> None:
    names = [p.name for p in exported.csvs]
    assert names == ["invoices.csv", "invoice_line_items.csv", "receipts.csv", "receipt_line_items.csv",
                     "bank_statements.csv", "bank_transactions.csv"]  # fmt: skip
    wb = load_workbook(exported.xlsx)
    sheet_of = {"invoices.csv": "Invoices", "invoice_line_items.csv": "Line items",
                "receipts.csv": "Receipts", "receipt_line_items.csv": "Line items",
                "bank_statements.csv": "Statements", "bank_transactions.csv": "Transactions"}  # fmt: skip
    for path in exported.csvs:
        raw = path.read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw
        with path.open(encoding="utf-8-sig", newline="") as f:
            assert next(csv.reader(f)) == _headers(wb[sheet_of[path.name]])


def test_csv_amounts_dates_and_text(exported: Exported) -> None:
    folder = exported.csvs[0].parent
    inv, review = _csv(folder / "invoices.csv")
    assert inv["total_amount"] == "1234.56" and inv["vat_rate"] == "19.00" and inv["date"] == "2025-03-03"
    assert inv["vendor_name"] == "'" + HYPERLINK and inv["buyer_name"] == "'\rBuyer Ltd"
    assert inv["due_date"] == "2025-04-02" and inv["issue_count"] == "0" and inv["iban"] == ""
    assert review["prepaid_amount"] == "'-1+1" and review["source_file"] == "'=review.pdf"
    items = _csv(folder / "invoice_line_items.csv")
    assert [i["description"] for i in items] == ["'" + CMD, "'@SUM(A1:A2)", "Service"]
    assert [i["quantity"] for i in items] == ["2", "1.5", ""]
    (receipt,) = _csv(folder / "receipts.csv")
    assert receipt["vendor_name"] == "'-1+1" and receipt["payment_method"] == "'\tTAB"
    (item,) = _csv(folder / "receipt_line_items.csv")
    assert item["unit_price"] == "0.07" and item["description"] == "#N/A" and item["document_number"] == "R-7"
    tx = _csv(folder / "bank_transactions.csv")
    assert [(t["date"], t["amount"], t["description"]) for t in tx] == [
        ("2025-03-03", "-119.50", "Card payment"), ("2025-03-04", "0.00", "'=1+1")
    ]  # fmt: skip


def test_csv_files_without_rows_keep_their_header(tmp_path: Path) -> None:
    for path in export_csv([], tmp_path):
        lines = path.read_text(encoding="utf-8-sig").splitlines()
        assert len(lines) == 1 and lines[0].startswith("id,source_file,")


def test_csv_is_deterministic(exported: Exported, tmp_path: Path) -> None:
    again = export_csv(exported.docs, tmp_path, workspace_root=exported.root)
    assert [p.read_bytes() for p in again] == [p.read_bytes() for p in exported.csvs]
