"""Values of a field's kind on a page, and how a person would describe where one is printed.

Shared by the vendor memory's learning (memory.py) and recalling (recall.py): a place is learned
and looked for with the same description, so what was learned is found again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from ledgerlens.pipeline.engines.ocr.finder.values import amounts_in
from ledgerlens.pipeline.engines.ocr.finder.view import DocView
from ledgerlens.pipeline.normalize import compact_id, find_dates, fold
from ledgerlens.pipeline.read.layout import Row
from ledgerlens.pipeline.types import Word

PLACED_KINDS = ("amount", "date", "short_text")  # fields found again by where they are printed


# ------------------------------------------------------------------ values on the page


@dataclass
class Spot:
    """One value of a field's kind printed on the page."""

    value: Any
    row: Row
    words: list[Word]

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)


def spots_of(view: DocView, kind: str, dec: str | None) -> list[Spot]:
    return [spot for row in view.rows for spot in row_spots(row, kind, dec)]


def row_spots(row: Row, kind: str, dec: str | None) -> list[Spot]:
    if kind == "amount":
        return [Spot(a.amount.value, row, a.words) for a in amounts_in(row.words, decimal_sep=dec)]
    if kind == "date":
        return _dates_in(row)
    return [Spot(compact_id(w.text.strip(":;,.()#")), row, [w]) for w in row.words if re.search(r"\d", w.text)]


def _dates_in(row: Row) -> list[Spot]:
    """Each date of a row with the words it covers; the value is (day-first reading, month-first)."""
    text, out, starts = row.text, [], []
    pos = 0
    for w in row.words:
        starts.append(pos)
        pos += len(w.text) + 1
    dmy = find_dates(text, day_first=True)
    mdy = {f.start: f.value for f in find_dates(text, day_first=False)}
    for f in dmy:
        used = [w for w, s in zip(row.words, starts, strict=True) if s < f.end and s + len(w.text) > f.start]
        out.append(Spot((f.value, mdy.get(f.start, f.value)), row, used))
    return out


def holds(kind: str, spot_value: Any, target: str) -> str | None:
    """The date order ("dmy"/"mdy"/"") or "" when the spot holds the target value; None if not."""
    try:
        if kind == "amount":
            return "" if abs(spot_value) == abs(Decimal(target)) else None
        if kind == "date":
            dmy, mdy = spot_value
            if dmy.isoformat() == target:
                return "dmy" if dmy != mdy else ""
            return "mdy" if mdy.isoformat() == target else None
    except (InvalidOperation, TypeError, ValueError):
        return None
    return "" if spot_value and spot_value == compact_id(str(target)) else None


# ------------------------------------------------------------------ describing a spot


_LETTERS = re.compile(r"[^\W\d_]{2,}")


def _letters(words: list[Word]) -> str:
    return " ".join(_LETTERS.findall(fold(" ".join(w.text for w in words))))


def label_before(view: DocView, spot: Spot, fld: str) -> str | None:
    """The lexicon's label of the field nearest before the value on its row ("vom" in
    "Teilrechnung Nr. 210112 vom 06.06.2025"): an anchor that survives the words around it."""
    x = spot.words[0].x0 + 1
    own = [h for h in view.labels[id(spot.row)] if h.x1 <= x and fld in h.fields]
    return " ".join(own[-1].phrase) if own else None


def describe(view: DocView, spot: Spot) -> tuple[str, str]:
    """(anchor, where): the words before the value on its row (the vendor's own label, in the
    lexicon or not), else those just above it."""
    left = [w for w in spot.row.words if w.x1 <= spot.words[0].x0 + 1 and w not in spot.words]
    anchor = " ".join(_letters(left).split()[-5:])
    if anchor:
        return anchor, "right"
    rows = view.rows_of(spot.row.page)
    unit = view.unit(spot.row.page)
    x0, x1 = spot.words[0].x0, spot.words[-1].x1
    for above in reversed(rows[max(0, spot.row.index - 2) : spot.row.index]):
        if spot.row.y0 - above.y1 > 2.5 * unit:
            break
        over = [w for w in above.words if w.x1 >= x0 - unit and w.x0 <= x1 + unit]
        anchor = " ".join(_letters(over).split()[-5:])
        if anchor:
            return anchor, "below"
    return "", "region"


def shape_of(text: str) -> str:
    return re.sub(r"\d+", "9", re.sub(r"[^\W\d_]+", "A", text))
