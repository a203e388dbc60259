"""Recalling a vendor's fields: the memory's places looked for on a new document of the vendor.

Only the rows a learned place can point at are read (a look-up must cost milliseconds); the
memory's value goes first unless the general finder is sure of another one, and the vendor's
name and address are used only where the page prints them.
"""

from __future__ import annotations

from typing import Any

from ledgerlens.pipeline.doctypes.schemas import DocumentSchema
from ledgerlens.pipeline.engines.memory import NAME_MATCH, Placement, VendorProfile, name_key, name_similarity
from ledgerlens.pipeline.engines.ocr.finder.found import Found, guess_decimal_sep
from ledgerlens.pipeline.engines.ocr.finder.parties import clean_name
from ledgerlens.pipeline.engines.ocr.finder.spots import (
    PLACED_KINDS,
    Spot,
    describe,
    label_before,
    row_spots,
    shape_of,
)
from ledgerlens.pipeline.engines.ocr.finder.totals import cash_rounded
from ledgerlens.pipeline.engines.ocr.finder.view import Candidate, DocView
from ledgerlens.pipeline.normalize import compact_id, fold
from ledgerlens.pipeline.read.layout import Row
from ledgerlens.pipeline.types import FieldEvidence

_ANCHOR_MATCH = 0.8
_ID_VALUES = ("vendor_vat_id", "vendor_tax_number", "iban", "bic")


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


class Recall:
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
            self._spots[key] = row_spots(row, kind, self.dec)
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


def place_value(recall: Recall, fld: str, kind: str, place: Placement) -> tuple[Spot, float] | None:
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
    recall = Recall(view, guess_decimal_sep(view))
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
