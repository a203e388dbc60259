"""The finder's side of the vendor memory: learn from a corrected document, recall on the next.

Learning (`learn_vendor`): for each corrected value, every place the page prints it is found
and described the same way a person would remember it — the words before it on its row (its
label, whatever the vendor calls it, in the lexicon or not), or the words above it, where on
the page it sits, and its printed shape. The vendor's own values (name, address, VAT id, IBAN)
are kept as they are, with the identifiers and name lines that tell this vendor's documents.

Recalling (recall.py, `recall_fields`): on a document of a recognised vendor, every value of
the field's kind on the page is described the same way (spots.py), and the one whose
description matches what was learned wins. A field the memory cannot place is left to the
general finder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from ledgerlens.pipeline.doctypes.schemas import DocumentSchema
from ledgerlens.pipeline.engines.memory import Placement, VendorClues, VendorProfile, name_key, name_similarity
from ledgerlens.pipeline.engines.ocr.finder import header
from ledgerlens.pipeline.engines.ocr.finder.found import guess_decimal_sep
from ledgerlens.pipeline.engines.ocr.finder.lexicon import NOT_TOTALS
from ledgerlens.pipeline.engines.ocr.finder.parties import clean_name
from ledgerlens.pipeline.engines.ocr.finder.recall import Recall, place_value
from ledgerlens.pipeline.engines.ocr.finder.spots import (
    PLACED_KINDS,
    Spot,
    describe,
    holds,
    label_before,
    shape_of,
    spots_of,
)
from ledgerlens.pipeline.engines.ocr.finder.view import DocView
from ledgerlens.pipeline.normalize import compact_id, find_dates
from ledgerlens.pipeline.types import Word

VENDOR_VALUES = ("vendor_name", "vendor_address", "vendor_vat_id", "vendor_tax_number", "iban", "bic", "currency")
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


def _placements(view: DocView, spot: Spot, fld: str, order: str, rank: int) -> list[Placement]:
    """The place described by the words before the value, and, where a label of the field stands
    before it, by that label alone (where="label")."""
    page = spot.row.page
    rows = view.rows_of(page)
    box = view.layouts[page].page_bbox(spot.words)
    width, height = max(view.pages[page].width, 1.0), max(view.pages[page].height, 1.0)
    anchor, where = describe(view, spot)
    at = Placement(
        anchor=anchor,
        where=where,
        page=-1 if page == len(view.pages) - 1 and page > 0 else page,
        x=round((box[0] + box[2]) / 2 / width, 4),
        y=round((box[1] + box[3]) / 2 / height, 4),
        from_bottom=float(len(rows) - 1 - spot.row.index),
        shape=shape_of(spot.text),
        order=order,
        rank=rank,
    )
    label = label_before(view, spot, fld)
    return [at, replace(at, anchor=label, where="label")] if label else [at]


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
        for spot in spots_of(view, kind, dec):
            order = holds(kind, spot.value, str(value))
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
    recall = Recall(view, guess_decimal_sep(view))
    kinds = schema.field_kinds
    missed: dict[str, frozenset[tuple[str, str]]] = {}
    for fld, places in known.placements.items():
        kind, value = kinds.get(fld), data.get(fld)
        if kind not in PLACED_KINDS or value in (None, ""):
            continue
        wrong = set()
        for place in places:
            got = place_value(recall, fld, kind, place)
            if got is not None and holds(kind, got[0].value, str(value)) is None:
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
