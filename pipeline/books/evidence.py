"""Where on its pages each value of a stored document is printed: the review screen's boxes.

Two sources. The engine's own evidence, stored in the result's provenance (`fields[<name>]`:
page, bbox, source, text), is used while the value still reads as what the engine saw there. A
value the engine left no box for (table rows, fields a model read, values a reviewer corrected)
is looked for in the page words: amounts, dates and numbers by meaning (`1.234,56` finds
"1234.56"), text by its letters and digits, table cells on their row's line first.

Boxes are given as fractions of their page (0..1), so they do not depend on the unit the page
was measured in (PDF points for a text layer, pixels for OCR) nor on the size the image is shown at.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from ledgerlens.pipeline.check.grounding import compact
from ledgerlens.pipeline.money import to_decimal
from ledgerlens.pipeline.normalize import find_dates, parse_amount
from ledgerlens.pipeline.read.layout import union_box
from ledgerlens.pipeline.types import DocumentResult, Page, Word

BBox = tuple[float, float, float, float]
NUMBER_KINDS = frozenset({"amount", "quantity", "rate", "number"})
TABLES = ("line_items", "tax_breakdown", "transactions")
_WINDOW = 8  # most words one printed value spans
_MIN_NEEDLE = 3  # shorter text ("1", "A") would be found anywhere


@dataclass(frozen=True)
class Box:
    field: str  # "total_amount", "line_items[2].amount"; a table row's box: "line_items"
    page: int  # 1-based
    box: BBox  # fractions of the page: x0, y0, x1, y1
    source: str  # "engine" (stored evidence) or "page" (found in the words now)
    row: int | None = None
    column: str | None = None


def page_sizes(provenance: dict[str, Any]) -> dict[int, tuple[float, float]]:
    """Page number -> (width, height) in the unit of the stored boxes, where provenance has them."""
    out = {}
    for p in provenance.get("pages") or []:
        if isinstance(p, dict) and p.get("width") and p.get("height"):
            out[int(p["page"])] = (float(p["width"]), float(p["height"]))
    return out


def _fraction(bbox: BBox, size: tuple[float, float]) -> BBox:
    w, h = size
    x0, y0, x1, y1 = bbox
    return (max(0.0, x0 / w), max(0.0, y0 / h), min(1.0, x1 / w), min(1.0, y1 / h))


def engine_boxes(result: DocumentResult, kinds: dict[str, str], sizes: dict[int, tuple[float, float]]) -> list[Box]:
    """The stored evidence's boxes, for the values that still read as the text they were found in."""
    out = []
    for name, ev in (result.provenance.get("fields") or {}).items():
        if not isinstance(ev, dict) or not ev.get("bbox") or not ev.get("page") or int(ev["page"]) not in sizes:
            continue
        value = result.data.get(name)
        if isinstance(value, str) and ev.get("text") and not agrees(kinds.get(name, "text"), value, ev["text"]):
            continue  # corrected since: the box shows the old value's place
        bbox = tuple(float(v) for v in ev["bbox"])
        out.append(Box(name, int(ev["page"]), _fraction(bbox, sizes[int(ev["page"])]), "engine"))  # type: ignore[arg-type]
    return out


def agrees(kind: str, value: str, printed: str) -> bool:
    """Does `printed` (as on the page) say `value` (as stored)?"""
    if kind in NUMBER_KINDS:
        amount = parse_amount(printed.rstrip("% "))
        return amount is not None and abs(amount.value) == abs(to_decimal(value) or Decimal("NaN"))
    if kind == "date":
        return any(str(d.value) == value for d in find_dates(printed))
    needle = compact(value.split(", ")[0])
    return bool(needle) and needle in compact(printed)


@dataclass(frozen=True)
class _Span:
    page: int  # 1-based
    line: int  # position of the line in reading order, over all pages
    words: list[Word]

    @property
    def bbox(self) -> BBox:
        return union_box(self.words)

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)


class WordIndex:
    """Every run of up to `_WINDOW` words of a line, by what it reads as: number, date, letters."""

    def __init__(self, pages: list[Page]) -> None:
        self.sizes = {p.index + 1: (p.width, p.height) for p in pages}
        self.numbers: dict[Decimal, list[_Span]] = defaultdict(list)
        self.dates: dict[date, list[_Span]] = defaultdict(list)
        self.texts: dict[str, list[_Span]] = defaultdict(list)
        self.spans: list[tuple[str, _Span]] = []  # (compact text, span): for text inside a longer run
        n = 0
        for page in pages:
            for words in _lines(page.words):
                for i in range(len(words)):
                    for j in range(i + 1, min(i + _WINDOW, len(words)) + 1):
                        self._add(_Span(page.index + 1, n, words[i:j]))
                n += 1

    def _add(self, span: _Span) -> None:
        text = span.text
        amount = parse_amount(text.rstrip("% ")) if len(span.words) <= 4 else None
        if amount is not None:
            self.numbers[abs(amount.value)].append(span)
        for found in find_dates(text) if len(span.words) <= 4 else []:
            if found.start == 0 and found.end == len(text):
                self.dates[found.value].append(span)
        key = compact(text)
        self.texts[key].append(span)
        self.spans.append((key, span))

    def find(self, kind: str, value: str, line: int | None = None, taken: frozenset[int] = frozenset()) -> _Span | None:
        """Where `value` is printed; on line `line` (or the nearest line to it) when it is there,
        in none of the words `taken` (ids of words another cell of the row was found in)."""
        found: list[_Span] = []
        if kind in NUMBER_KINDS:
            number = to_decimal(value)
            found = self.numbers.get(abs(number), []) if number is not None else []
        elif kind == "date":
            try:
                found = self.dates.get(date.fromisoformat(value), [])
            except ValueError:
                found = []
        else:
            needle = compact(value.split(", ")[0])
            if len(needle) >= _MIN_NEEDLE:
                found = self.texts.get(needle) or [s for key, s in self.spans if needle in key]
        found = [s for s in found if not any(id(w) in taken for w in s.words)]
        if not found:
            return None
        if line is None:
            return min(found, key=lambda s: (s.line, len(s.words)))
        return min(found, key=lambda s: (abs(s.line - line), len(s.words), s.line))

    def box(self, span: _Span) -> BBox:
        return _fraction(span.bbox, self.sizes[span.page])


def located_boxes(
    result: DocumentResult,
    kinds: dict[str, str],
    pages: list[Page],
    skip: set[str] = frozenset(),  # type: ignore[assignment]
) -> list[Box]:
    """Boxes for the values not in `skip` (those the engine's evidence already places), from the words."""
    index = WordIndex(pages)
    out: list[Box] = []
    evidence = result.provenance.get("fields") or {}
    for name, value in result.data.items():
        if name in skip or name in TABLES or not isinstance(value, str) or not value:
            continue
        if str((evidence.get(name) or {}).get("source", "")).startswith("xml:"):
            continue  # an e-invoice value from its XML that the page did not show: no place to point at
        span = index.find(kinds.get(name, "text"), value)
        if span is not None:
            out.append(Box(name, span.page, index.box(span), "page"))
    for table in TABLES:
        for i, row in enumerate(result.data.get(table) or []):
            if isinstance(row, dict):
                out += _row_boxes(index, kinds, table, i, row)
    return out


def _row_boxes(index: WordIndex, kinds: dict[str, str], table: str, i: int, row: dict[str, Any]) -> list[Box]:
    """A table row's cells, each looked for near the row's text (its description), and the row's box."""
    cells = [(k, v) for k, v in row.items() if isinstance(v, str) and v]
    anchor = next((v for k, v in cells if k in ("description", "category")), None)
    first = index.find("text", anchor) if anchor else None
    line = first.line if first is not None else None
    out: list[Box] = []
    spans: list[_Span] = []
    taken: frozenset[int] = frozenset()
    for key, value in cells:
        span = index.find(kinds.get(f"{table}.{key}", "text"), value, line, taken)
        if span is None or (line is not None and abs(span.line - line) > 2):
            continue  # found far from its row: another row's value, not this one's
        line = span.line if line is None else line
        taken |= {id(w) for w in span.words}
        spans.append(span)
        out.append(Box(f"{table}[{i}].{key}", span.page, index.box(span), "page", row=i, column=key))
    if spans:
        page = spans[0].page
        words = [w for s in spans if s.page == page for w in s.words]
        out.append(Box(table, page, _fraction(union_box(words), index.sizes[page]), "page", row=i))
    return out


def _lines(words: list[Word]) -> list[list[Word]]:
    """A page's words by line, left to right (one line when the reader numbered none)."""
    if not words:
        return []
    if all(w.line < 0 for w in words):
        return [sorted(words, key=lambda w: (w.y0, w.x0))]
    lines: dict[int, list[Word]] = defaultdict(list)
    for w in words:
        lines[w.line].append(w)
    return [sorted(ws, key=lambda w: w.x0) for _, ws in sorted(lines.items())]
