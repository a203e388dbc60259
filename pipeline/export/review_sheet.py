"""The workbook's Review sheet read back: what the accountant corrected or accepted.

Each Review row names a document (id) and a field; `books.review.apply_corrections` takes it from
there. Our own formula escape is undone on the way in.
"""

from __future__ import annotations

from pathlib import Path

from ledgerlens.pipeline.books.review import Correction
from ledgerlens.pipeline.errors import ConfigError
from ledgerlens.pipeline.export.safe import ESCAPE, is_formula_like
from openpyxl import load_workbook


def read_corrections(path: Path) -> list[Correction]:
    """The rows of the Review sheet that say something: a corrected value or a status."""
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except (OSError, ValueError, KeyError) as e:
        raise ConfigError(f"cannot read {path} as a workbook: {e}") from e
    if "Review" not in wb.sheetnames:
        raise ConfigError(f"{path} has no Review sheet; export one with `ledgerlens export --to xlsx`")
    rows = wb["Review"].iter_rows(values_only=True)
    header = [str(c) if c is not None else "" for c in next(rows, ())]
    need = ("id", "field", "corrected_value", "review_status")
    missing = [n for n in need if n not in header]
    if missing:
        raise ConfigError(f"the Review sheet of {path} lacks the column(s) {', '.join(missing)}")
    col = {n: header.index(n) for n in need}
    out = []
    for i, values in enumerate(rows, start=2):
        cells = list(values) + [None] * len(header)
        value, status = cells[col["corrected_value"]], cells[col["review_status"]]
        status = str(status).strip().lower() if status not in (None, "") else ""
        doc_id = cells[col["id"]]
        if not isinstance(doc_id, int) or (value in (None, "") and status in ("", "open")):
            continue
        text = _unescape(str(value)) if value not in (None, "") else None
        out.append(Correction(i, doc_id, cells[col["field"]] or None, text, status or "corrected"))
    wb.close()
    return out


def _unescape(text: str) -> str:
    """Our own formula escape undone: "'=x" was written for "=x"; anything else is as typed."""
    return text[1:] if text.startswith(ESCAPE) and is_formula_like(text[1:]) else text
