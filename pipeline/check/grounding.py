"""Grounding: does a value a model read appear on the page's own words (OCR or PDF text layer)?

A vision-language model can write a plausible total that is printed nowhere. Amounts, dates,
identifiers and IBANs are checked against the words of every page, compared by meaning, not by
spelling: `1.234,56 €` on the page grounds the amount "1234.56", `3 Mar 2025` grounds "2025-03-03",
`DE89 3704 0044 ...` grounds "DE8937040044...". A value found nowhere is flagged for review.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from ledgerlens.pipeline.money import to_decimal
from ledgerlens.pipeline.normalize import find_dates, parse_amount
from ledgerlens.pipeline.read.layout import union_box
from ledgerlens.pipeline.types import Located, Page, Word

STAGE = "ground"
AMOUNT_KINDS = frozenset({"amount"})
ID_KINDS = frozenset({"iban", "bic", "tax_id"})
# Text fields that are identifiers by name (invoice_number, order_number, account_number, ...).
_ID_NAME = re.compile(r"(_number|_reference|_id)$")
_MAX_WINDOW = 4  # consecutive words joined when looking for one value ("1 234,56", "3 Mar 2025")


@dataclass
class PageIndex:
    """Every amount, date and compacted id string readable on the pages, with where it is."""

    amounts: dict[Decimal, Located] = field(default_factory=dict)
    dates: dict[date, Located] = field(default_factory=dict)
    lines: list[tuple[str, Located]] = field(default_factory=list)  # compacted line text, its match

    @classmethod
    def build(cls, pages: list[Page]) -> PageIndex:
        index = cls()
        for page in pages:
            for words in _lines(page.words):
                index._add_line(page.index + 1, words)
        return index

    def _add_line(self, page: int, words: list[Word]) -> None:
        line_text = " ".join(w.text for w in words)
        whole = Located(page, union_box(words), line_text)
        self.lines.append((compact(line_text), whole))
        for found in find_dates(line_text):
            self.dates.setdefault(found.value, Located(page, whole.bbox, line_text[found.start : found.end]))
        for i in range(len(words)):
            for j in range(i + 1, min(i + _MAX_WINDOW, len(words)) + 1):
                window = words[i:j]
                text = " ".join(w.text for w in window)
                amount = parse_amount(text)
                if amount is not None:
                    self.amounts.setdefault(abs(amount.value), Located(page, union_box(window), text))

    def find(self, kind: str, value: str) -> Located | None:
        if kind in AMOUNT_KINDS:
            number = to_decimal(value)
            return self.amounts.get(abs(number)) if number is not None else None
        if kind == "date":
            try:
                return self.dates.get(date.fromisoformat(value))
            except ValueError:
                return None
        needle = compact(value)
        return next((m for text, m in self.lines if needle and needle in text), None)


def compact(text: str) -> str:
    return re.sub(r"[\s.\-/]", "", text).upper()


def groundable(path: str, kind: str) -> bool:
    """Amounts, dates, identifiers and IBANs; free text (names, addresses) is not checked."""
    name = path.rsplit(".", 1)[-1]
    return (
        kind in AMOUNT_KINDS
        or kind == "date"
        or kind in ID_KINDS
        or (kind == "short_text" and bool(_ID_NAME.search(name)))
    )


def ground(data: dict[str, Any], kinds: dict[str, str], pages: list[Page]) -> dict[str, Located | None]:
    """Field path (`total_amount`, `line_items[2].amount`) -> where it is on the pages, or None."""
    index = PageIndex.build(pages)
    out: dict[str, Located | None] = {}
    for path, kind, value in _values(data, kinds, "", ""):
        if groundable(path, kind):
            out[path] = index.find(kind, value)
    return out


def _values(data: dict[str, Any], kinds: dict[str, str], kind_prefix: str, path_prefix: str) -> Any:
    for key, value in data.items():
        kind = kinds.get(kind_prefix + key)
        if kind == "list" and isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, dict):
                    yield from _values(item, kinds, f"{kind_prefix}{key}.", f"{path_prefix}{key}[{i}].")
        elif kind is not None and isinstance(value, str) and value:
            yield f"{path_prefix}{key}", kind, value


def _lines(words: list[Word]) -> list[list[Word]]:
    if not words:
        return []
    if all(w.line < 0 for w in words):
        return [words]
    lines: dict[int, list[Word]] = {}
    for w in words:
        lines.setdefault(w.line, []).append(w)
    return [sorted(ws, key=lambda w: w.x0) for _, ws in sorted(lines.items())]
