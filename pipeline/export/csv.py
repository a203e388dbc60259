"""Accounting CSV files: the workbook's data sheets, one file per table and document type.

Every file is written, with its header, even when it has no rows: an import job that expects
`receipts.csv` must not break on a week without receipts. Encoding is UTF-8 with a byte order
mark (`utf-8-sig`), which Excel needs to open UTF-8 correctly; lines end in CRLF (RFC 4180).
Columns are those of the matching sheet. Amounts are plain decimal strings with a dot
("-1234.56": never a float, never grouped), dates ISO ("2025-03-03"), text escaped.
"""

from __future__ import annotations

import os
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from ledgerlens.pipeline.books.store import StoredDocument
from ledgerlens.pipeline.export.columns import DATA_TABLES, Table, Value, build_table, load_kinds
from ledgerlens.pipeline.export.safe import escape_text

if TYPE_CHECKING:
    from ledgerlens.pipeline.export.registry import ExportRequest

# file name -> (sheet title, document type of its rows)
CSV_FILES = (
    ("invoices.csv", "Invoices", "invoice"),
    ("invoice_line_items.csv", "Line items", "invoice"),
    ("receipts.csv", "Receipts", "receipt"),
    ("receipt_line_items.csv", "Line items", "receipt"),
    ("bank_statements.csv", "Statements", "bank_statement"),
    ("bank_transactions.csv", "Transactions", "bank_statement"),
)
ENCODING = "utf-8-sig"
LINE_END = "\r\n"


def export_csv(docs: list[StoredDocument], folder: Path, *, workspace_root: Path | None = None) -> list[Path]:
    """Write the six CSV files for `docs` (rows in the order given) into `folder`; returns their paths."""
    kinds = load_kinds(workspace_root)
    # The confidence threshold only colours workbook cells; CSV has no colours.
    tables = {spec.title: build_table(spec, docs, kinds, 0.0) for spec in DATA_TABLES}
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, title, doc_type in CSV_FILES:
        frame = _frame(tables[title], doc_type)
        path = folder / name
        _write(path, frame.to_csv(index=False, lineterminator=LINE_END))
        written.append(path)
    return written


def _frame(table: Table, doc_type: str) -> pd.DataFrame:
    rows = [[_text(v) for v in row.values] for row in table.rows if row.doc.result.doc_type == doc_type]
    header = [escape_text(c.name) for c in table.columns]
    # dtype=object: every cell stays the exact string built here; pandas never parses a number.
    return pd.DataFrame(rows, columns=header, dtype=object)


def _text(v: Value) -> str:
    if v.data is None:
        return ""
    if isinstance(v.data, Decimal):
        return format(v.data, "f")
    if isinstance(v.data, date):
        return v.data.isoformat()
    if isinstance(v.data, int | float):
        return str(v.data)
    return escape_text(v.data)


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(text.encode(ENCODING))
    os.replace(tmp, path)


def write(request: ExportRequest) -> list[Path]:
    """The registry's `csv` format: one file per table and document type in [export] csv_dir."""
    folder = request.output or request.workspace_root / request.config.export.csv_dir
    return export_csv(request.docs, folder, workspace_root=request.workspace_root)
