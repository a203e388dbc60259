"""The finder's side of the vendor memory: learn from a corrected document, recall on the next.

Learning (`learn_vendor`): for each corrected value, every place the page prints it is found
and described the same way a person would remember it — the words before it on its row (its
label, whatever the vendor calls it, in the lexicon or not), or the words above it, where on
the page it sits, and its printed shape. The vendor's own values (name, address, VAT id, IBAN)
are kept as they are, with the identifiers and name lines that tell this vendor's documents.

Recalling (`recall_fields`): on a document of a recognised vendor, every value of the field's
kind on the page is described the same way, and the one whose description matches what was
learned wins. A field the memory cannot place is left to the general finder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from ledgerlens.pipeline.doctypes.schemas import DocumentSchema
from ledgerlens.pipeline.engines.memory import (
    NAME_MATCH,
    Placement,
    VendorClues,
    VendorProfile,
    name_key,
    name_similarity,
)
from ledgerlens.pipeline.engines.ocr.finder import header
from ledgerlens.pipeline.engines.ocr.finder.found import Found, guess_decimal_sep
from ledgerlens.pipeline.engines.ocr.finder.lexicon import NOT_TOTALS
from ledgerlens.pipeline.engines.ocr.finder.parties import clean_name
from ledgerlens.pipeline.engines.ocr.finder.totals import cash_rounded
from ledgerlens.pipeline.engines.ocr.finder.values import amounts_in
from ledgerlens.pipeline.engines.ocr.finder.view import Candidate, DocView
from ledgerlens.pipeline.normalize import compact_id, find_dates, fold
from ledgerlens.pipeline.read.layout import Row
from ledgerlens.pipeline.types import FieldEvidence, Word

# The vendor's own values: the same on every document of the vendor.
VENDOR_VALUES = ("vendor_name", "vendor_address", "vendor_vat_id", "vendor_tax_number", "iban", "bic", "currency")
PLACED_KINDS = ("amount", "date", "short_text")  # fields found again by where they are printed
_ID_VALUES = ("vendor_vat_id", "vendor_tax_number", "iban", "bic")
_ANCHOR_MATCH = 0.8
MAX_PLACES = 4


@dataclass
class Lesson:
    """What one corrected document teaches about its vendor."""

    name: str
    doc_type: str
    clues: VendorClues
    values: dict[str, str] = field(default_factory=dict)
    placements: dict[str, list[Placement]] = field(default_factory=dict)
    missed: dict[str, frozenset[tuple[str, str]]] = field(default_factory=dict)  # field -> known places now wrong
    judged: int | None = None  # the known vendor whose places `missed` speaks of


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


def _spots(view: DocView, kind: str, dec: str | None) -> list[Spot]:
    return [spot for row in view.rows for spot in _row_spots(row, kind, dec)]


def _row_spots(row: Row, kind: str, dec: str | None) -> list[Spot]:
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


def _matches(kind: str, spot_value: Any, target: str) -> str | None:
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


def _placements(view: DocView, spot: Spot, fld: str, order: str, rank: int) -> list[Placement]:
    """The place described by the words before the value, and, where a label of the field stands
    before it, by that label alone (where="label")."""
    page = spot.row.page
    rows = view.rows_of(page)
    box = view.layouts[page].page_bbox(spot.words)
    width, height = max(view.pages[page].width, 1.0), max(view.pages[page].height, 1.0)
    at = {
        "page": -1 if page == len(view.pages) - 1 and page > 0 else page,
        "x": round((box[0] + box[2]) / 2 / width, 4),
        "y": round((box[1] + box[3]) / 2 / height, 4),
        "from_bottom": float(len(rows) - 1 - spot.row.index),
        "shape": shape_of(spot.text),
        "order": order,
        "rank": rank,
    }
    anchor, where = describe(view, spot)
    out = [Placement(anchor=anchor, where=where, **at)]
    label = label_before(view, spot, fld)
    if label:
        out.append(Placement(anchor=label, where="label", **at))
    return out


def _rank(view: DocView, spot: Spot, field_name: str) -> int:
    """2: a label of this field stands before the value; 0: a payment/ignored line; else 1."""
    before = [h for h in view.labels[id(spot.row)] if h.x1 <= spot.words[0].x0 + 1]
    if any(field_name in h.fields for h in before):
        return 2
    if any(h.fields & NOT_TOTALS for h in before):
        return 0
    return 1


# ------------------------------------------------------------------ clues


_ID_TOKEN = re.compile(r"^[A-Z0-9][A-Z0-9/]{5,24}$")


def vendor_clues(view: DocView, data: dict[str, Any], exclude: set[str] | None = None) -> VendorClues:
    """What tells the vendor: its VAT id, tax number and IBAN as read (`data`: the finder's or a
    person's), the id-like numbers printed on the first page outside the buyer's part
    (registration, GST and phone numbers), and the name-like lines at the top."""
    ids = [f"{kind}:{compact_id(str(data[f]))}" for f, kind in _ID_KINDS if data.get(f)]
    zone = header.buyer_zone(view, 0)
    for row in view.rows_of(0):
        for w in row.words:
            token = compact_id(w.text.strip(":;,.()[]#"))
            if sum(c.isdigit() for c in token) < 6 or not _ID_TOKEN.match(token):
                continue
            if find_dates(w.text) or re.search(r"[.,]\d\d$", w.text) or (zone and _in_zone(w, zone)):
                continue  # a date, an amount, or the buyer's number
            ids.append("num:" + token)
    exclude = exclude or set()
    ids = [i for i in dict.fromkeys(ids) if i.split(":", 1)[1] not in exclude]
    top = view.rows_of(0)[:8]
    names = [clean_name(seg.text) for row in top for seg in row.segments] + [clean_name(row.text) for row in top]
    if data.get("vendor_name"):
        names.insert(0, str(data["vendor_name"]))
    return VendorClues(tuple(ids[:40]), tuple(dict.fromkeys(n for n in names if len(name_key(n)) >= 3)))


_ID_KINDS = (("vendor_vat_id", "vat"), ("iban", "iban"), ("vendor_tax_number", "num"))


def _in_zone(w: Word, zone: tuple[float, float, float, float]) -> bool:
    x0, y0, x1, y1 = zone
    return x0 <= (w.x0 + w.x1) / 2 <= x1 and y0 <= w.cy <= y1


# ------------------------------------------------------------------ learning


def learn_vendor(view: DocView, data: dict[str, Any], schema: DocumentSchema) -> Lesson | None:
    """What a corrected document (`data`: the schema's fields as a person confirmed them) teaches."""
    name = str(data.get("vendor_name") or "").strip()
    buyer_ids = {compact_id(str(data[k])) for k in ("buyer_vat_id",) if data.get(k)}
    clues = vendor_clues(view, {k: v for k, v in data.items() if k != "vendor_name"}, buyer_ids)
    variants = [name] + [n for n in clues.names if name and name_similarity(name_key(n), name_key(name)) >= 0.8]
    clues = VendorClues(clues.ids, tuple(dict.fromkeys(v for v in variants if v)))
    if not name and not clues.ids:
        return None
    lesson = Lesson(name, schema.doc_type, clues)
    lesson.values = {k: str(data[k]) for k in VENDOR_VALUES if data.get(k) not in (None, "")}
    dec = guess_decimal_sep(view)
    kinds = schema.field_kinds
    for fld, value in data.items():
        kind = kinds.get(fld)
        if kind not in PLACED_KINDS or value in (None, "") or fld in VENDOR_VALUES or fld.startswith("buyer"):
            continue
        places = []
        for spot in _spots(view, kind, dec):
            order = _matches(kind, spot.value, str(value))
            if order is not None:
                places += _placements(view, spot, fld, order, _rank(view, spot, fld))
        places.sort(key=lambda p: (-p.rank, p.where == "label", p.where == "region"))
        if places:
            lesson.placements[fld] = _distinct(places)[:MAX_PLACES]
    return lesson


def judge_places(
    view: DocView, known: VendorProfile, data: dict[str, Any], schema: DocumentSchema
) -> dict[str, frozenset[tuple[str, str]]]:
    """Which of a known vendor's places point at another value than a person confirmed on this
    document: field -> {(anchor, where)}. A place that keeps misleading is dropped (merge_placements)."""
    recall = _Recall(view, guess_decimal_sep(view))
    kinds = schema.field_kinds
    missed: dict[str, frozenset[tuple[str, str]]] = {}
    for fld, places in known.placements.items():
        kind, value = kinds.get(fld), data.get(fld)
        if kind not in PLACED_KINDS or value in (None, ""):
            continue
        wrong = set()
        for place in places:
            got = place_value(recall, fld, kind, place)
            if got is not None and _matches(kind, got[0].value, str(value)) is None:
                wrong.add(place.key)
        if wrong:
            missed[fld] = frozenset(wrong)
    return missed


def _distinct(places: list[Placement]) -> list[Placement]:
    out: list[Placement] = []
    for p in places:
        if not any(q.anchor == p.anchor and q.where == p.where for q in out):
            out.append(p)
    return out


# ------------------------------------------------------------------ recalling


def _closeness(view: DocView, spot: Spot, place: Placement) -> float:
    """0..1: how near the spot sits to where the vendor printed the value before."""
    page = spot.row.page
    rows = view.rows_of(page)
    box = view.layouts[page].page_bbox(spot.words)
    y = (box[1] + box[3]) / 2 / max(view.pages[page].height, 1.0)
    x = (box[0] + box[2]) / 2 / max(view.pages[page].width, 1.0)
    from_bottom = len(rows) - 1 - spot.row.index
    dy = min(abs(y - place.y), abs(from_bottom - place.from_bottom) / max(len(rows), 1))
    return max(0.0, 1.0 - 2.0 * dy - abs(x - place.x))


class _Recall:
    """One document seen by the memory: rows, their values and descriptions, each worked out once
    and only for the rows a learned place can point at (a look-up must cost milliseconds)."""

    def __init__(self, view: DocView, dec: str | None) -> None:
        self.view, self.dec = view, dec
        self._folded: dict[int, str] = {}
        self._spots: dict[tuple[int, str], list[Spot]] = {}
        self._described: dict[tuple[int, str], tuple[str, str]] = {}

    def folded(self, row: Row) -> str:
        if id(row) not in self._folded:
            self._folded[id(row)] = fold(row.text)
        return self._folded[id(row)]

    def spots(self, row: Row, kind: str) -> list[Spot]:
        key = (id(row), kind)
        if key not in self._spots:
            self._spots[key] = _row_spots(row, kind, self.dec)
        return self._spots[key]

    def describe(self, spot: Spot, place: Placement, fld: str) -> tuple[str, str]:
        """The spot described the way this place was learned."""
        key = (id(spot), fld if place.where == "label" else "")
        if key not in self._described:
            label = label_before(self.view, spot, fld) if place.where == "label" else None
            self._described[key] = (label, "label") if label else describe(self.view, spot)
        return self._described[key]

    def rows_for(self, place: Placement) -> list[Row]:
        """Rows that may hold the value: those showing a word of the anchor (or the row under
        them), or, without an anchor, those near where the value was."""
        last = len(self.view.pages) - 1
        page = last if place.page == -1 else place.page
        if page > last:
            return []
        rows = self.view.rows_of(page)
        if place.where == "region":
            height = max(self.view.pages[page].height, 1.0)
            return [r for r in rows if abs((r.y0 + r.y1) / 2 / height - place.y) <= 0.15]
        words = [t for t in place.anchor.split() if len(t) >= 3] or place.anchor.split()
        hits = [r for r in rows if any(t in self.folded(r) for t in words)]
        if place.where in ("right", "label"):
            return hits
        return list({id(r): r for h in hits for r in rows[h.index + 1 : h.index + 3]}.values())


def place_value(recall: _Recall, fld: str, kind: str, place: Placement) -> tuple[Spot, float] | None:
    """The spot this placement points at on a new document, with how well it fits."""
    best: tuple[Spot, float] | None = None
    view = recall.view
    for row in recall.rows_for(place):
        for spot in recall.spots(row, kind):
            near = _closeness(view, spot, place)
            if place.where == "region":
                fit = near if near >= 0.8 else 0.0
            else:
                anchor, where = recall.describe(spot, place, fld)
                similar = name_similarity(anchor, place.anchor) if where == place.where else 0.0
                fit = similar + 0.2 * near if similar >= _ANCHOR_MATCH else 0.0
            fit += 0.1 if shape_of(spot.text) == place.shape else 0.0
            if fit > 0 and (best is None or fit > best[1]):
                best = (spot, fit)
    return best


def _value_of(kind: str, spot: Spot, place: Placement) -> Any:
    if kind == "date":
        dmy, mdy = spot.value
        return mdy if place.order == "mdy" else dmy
    return spot.value


def recall_fields(view: DocView, profile: VendorProfile, found: Found, schema: DocumentSchema) -> list[str]:
    """Fill `found` from the vendor's profile where it can place a value; returns the fields it set."""
    used: list[str] = []
    source = f"memory:{profile.name}"
    kinds = schema.field_kinds
    recall = _Recall(view, guess_decimal_sep(view))
    for fld, places in profile.placements.items():
        kind = kinds.get(fld)
        if kind not in PLACED_KINDS:
            continue
        for place in sorted(places, key=lambda p: (-p.trust[0], -p.trust[1])):
            got = place_value(recall, fld, kind, place)
            if got is not None:
                spot, fit = got
                cand = Candidate(fld, _value_of(kind, spot, place), 0.0, spot.row, spot.words, source)
                if fld == "total_amount":  # printed before a cash rounding this time?
                    cand = cash_rounded(view, recall.dec, cand)
                if _overrules(found, fld, place):
                    found.put(view, fld, cand.value, cand, min(0.97, 0.75 + 0.2 * min(fit, 1.0)))
                    used.append(fld)
                break
    used += _recall_values(view, profile, found, kinds, source)
    return used


SURE = 0.8  # a general finding this sure is kept against a memory that is not sure itself


def _overrules(found: Found, fld: str, place: Placement) -> bool:
    """The memory's value goes first, unless the general finder is sure of another one and the
    memory's place is neither a label of the field nor confirmed by a second correction."""
    general = found.evidence.get(fld)
    if general is None or general.confidence < SURE:
        return True
    return place.rank == 2 or (place.seen >= 2 and place.misses == 0)


def _recall_values(
    view: DocView, profile: VendorProfile, found: Found, kinds: dict[str, str], source: str
) -> list[str]:
    used: list[str] = []
    page_ids = {compact_id(t) for row in view.rows for t in (row.text, *(w.text for w in row.words))}
    page_text = compact_id(" ".join(r.text for r in view.rows))
    for fld, value in profile.values.items():
        if fld not in kinds:
            continue
        if fld == "vendor_address" and not _printed(view, value):
            continue  # another branch's address
        if fld == "vendor_name" and not name_printed(view, value):
            continue  # a look-alike vendor recognised by ids it shares
        if fld in _ID_VALUES and compact_id(value) not in page_text and compact_id(value) not in page_ids:
            continue
        if fld == "currency" and "currency" in found.data:
            continue
        found.put(view, fld, value, None, 0.9)
        found.evidence[fld] = FieldEvidence(0.9, None, None, source, "")
        used.append(fld)
    return used


def _printed(view: DocView, text: str) -> bool:
    """Are (nearly) all the words of this name or address printed on the page, allowing an OCR
    slip in a long word? (Branches differ in address; look-alike vendors in name.)"""
    want = name_key(text).split()
    have = set(name_key(" ".join(r.text for r in view.rows)).split())
    found = sum(1 for w in want if w in have or (len(w) >= 5 and any(_one_slip(w, h) for h in have)))
    return bool(want) and found >= 0.75 * len(want)


def name_printed(view: DocView, name: str) -> bool:
    """Is this vendor name printed on the first page: its words, or a top line that reads like it
    ("SANYUSTATIONERYSHOP" for "SANYU STATIONERY SHOP")?"""
    key = name_key(name)
    if _printed(view, name):
        return True
    return any(name_similarity(name_key(clean_name(r.text)), key) >= NAME_MATCH for r in view.rows_of(0)[:12])


def _one_slip(a: str, b: str) -> bool:
    return abs(len(a) - len(b)) <= 1 and a[:2] == b[:2] and name_similarity(a, b) >= 0.8
