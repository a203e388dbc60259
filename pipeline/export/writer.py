"""CSV bytes for the accounting files: a fixed dialect per target, text escaped, written atomically."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from ledgerlens.pipeline.export.safe import escape_text


class Text(str):
    """A cell that is text: escaped against formula injection. Plain `str` cells are numbers,
    dates or codes we formed ourselves and are written as they are."""


def csv_bytes(
    header: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    delimiter: str = ",",
    encoding: str = "utf-8-sig",
) -> bytes:
    return csv_text(header, rows, delimiter=delimiter).encode(encoding, errors="replace")


def csv_text(header: Sequence[str], rows: Iterable[Sequence[str]], *, delimiter: str = ",") -> str:
    """The CSV text, CRLF line endings; `Text` cells escaped."""
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([escape_text(c) if isinstance(c, Text) else c for c in row])
    return buf.getvalue()


def one_line(text: str) -> str:
    """Line breaks and tabs inside a cell as single spaces: one row of a file is one line."""
    return " ".join(text.split()) if any(c in text for c in "\r\n\t\v\f") else text


def write_atomic(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path
