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
from ledgerlens.pipeline.export.columns import Table, Value, build_table, load_layout
from ledgerlens.pipeline.export.safe import escape_text

if TYPE_CHECKING:
    from ledgerlens.pipeline.export.registry import ExportRequest

ENCODING = "utf-8-sig"
LINE_END = "\r\n"


def export_csv(docs: list[StoredDocument], folder: Path, *, workspace_root: Path | None = None) -> list[Path]:
    """Write a CSV file per table and document type (the names their cards give) for `docs` (rows
    in the order given) into `folder`; returns their paths."""
    layout = load_layout(workspace_root)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    # The confidence threshold only colours workbook cells; CSV has no colours.
    tables = {spec.title: build_table(spec, docs, layout, 0.0) for spec in layout.tables}
    for name, spec, doc_type in layout.csv_files():
        path = folder / name
        _write(path, _frame(tables[spec.title], doc_type).to_csv(index=False, lineterminator=LINE_END))
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
