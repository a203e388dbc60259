"""The generic finder: a document type's card drives it, no code names the type.

For each field of the schema, in schema order, the labels the card (and common's card) give that
field are looked up on the page and the value next to or under a label is read by the field's
kind: a date, an amount, an identifier, a line of text. Fields that need no label are found by
their shape (IBAN, BIC, VAT id), the sender by the party block at the top of the first page, and
`line_items` by the table finder. Amounts are reconciled as everywhere (net + tax = total).
"""

from __future__ import annotations

from typing import Any

from ledgerlens.pipeline.doctypes.schemas import DocumentSchema
from ledgerlens.pipeline.engines.ocr.finder import header, parties
from ledgerlens.pipeline.engines.ocr.finder.amounts import amount_candidates, solve_totals
from ledgerlens.pipeline.engines.ocr.finder.found import Found, guess_decimal_sep
from ledgerlens.pipeline.engines.ocr.finder.tables import line_items
from ledgerlens.pipeline.engines.ocr.finder.view import Candidate, DocView
from ledgerlens.pipeline.types import FieldEvidence

_PARTY_FIELDS = ("vendor_name", "vendor_address", "buyer_name", "buyer_address")
_TOTALS = ("total_amount", "net_amount", "tax_amount", "amount_due", "prepaid_amount")


def _best(cands: list[Candidate]) -> Candidate | None:
    return max(cands, key=lambda c: c.score) if cands else None


def find_by_labels(view: DocView, found: Found, schema: DocumentSchema, subtype: str | None) -> None:
    kinds = {path: kind for path, kind in schema.field_kinds.items() if "." not in path}
    if subtype and schema.card.subtypes.field in kinds:
        found.put(view, schema.card.subtypes.field, subtype, None, 0.9)
    day_first = header.guess_day_first(view)
    dec = guess_decimal_sep(view)
    amounts: dict[str, list[Candidate]] = {}
    for name, kind in kinds.items():
        if kind == "amount":
            amounts[name] = amount_candidates(view, name, dec)
        elif name not in _PARTY_FIELDS:
            cand = _scalar(view, name, kind, day_first)
            if cand is not None:
                found.put(view, name, cand.value, cand, cand.score)
    _amounts(view, found, amounts)
    _parties(view, found, kinds)
    if kinds.get("currency") == "currency" and "currency" not in found.data:
        codes = [str(c.extra["currency"]) for cs in amounts.values() for c in cs[:1] if c.extra.get("currency")]
        cur = header.currency(view, codes, found.data.get("iban"))
        if cur:
            found.data["currency"] = cur[0]
            found.evidence["currency"] = FieldEvidence(cur[1], source=f"currency:{cur[2]}")
    if kinds.get("line_items") == "list":
        items = line_items(view, dec)
        if items:
            found.data["line_items"] = [it.data for it in items]
            found.evidence["line_items"] = FieldEvidence(
                min(it.confidence for it in items), items[0].page + 1, None, "table"
            )


def _scalar(view: DocView, name: str, kind: str, day_first: bool) -> Candidate | None:
    if kind == "date":
        return _best(header.dated(view, name, day_first=day_first))
    if kind == "iban":
        return _best(header.ibans(view))
    if kind == "bic":
        return _best(header.bics(view))
    if kind == "tax_id":
        ids = header.vat_ids(view)
        buyer = name.startswith("buyer")
        on_side = [c for c in ids if header.is_buyer_side(view, c.row, c.words) == buyer]
        return on_side[0] if on_side else None
    if kind in ("short_text", "text"):
        return _best(header.reference(view, name))
    return None


def _amounts(view: DocView, found: Found, cands: dict[str, list[Candidate]]) -> None:
    """The consistent reading when the schema has the totals; otherwise each amount's best label."""
    if {"total_amount", "net_amount", "tax_amount"} & set(cands):
        full = {
            k: cands.get(k, []) for k in ("total_amount", "net_amount", "tax_amount", "amount_due", "prepaid_amount")
        }
        totals = solve_totals(full)
        chosen: dict[str, Any] = {k: v for k, v in totals.chosen.items() if k in cands}
    else:
        chosen = {}
    for name, options in cands.items():
        cand = chosen.get(name) or _best(options)
        if cand is not None:
            found.put(view, name, cand.value, cand, cand.score)


def _parties(view: DocView, found: Found, kinds: dict[str, str]) -> None:
    if not set(_PARTY_FIELDS) & set(kinds):
        return
    vendor = parties.find_sender(view, header.buyer_zone(view, 0))
    buyer = parties.labelled_party(view, "buyer") if "buyer_name" in kinds else parties.Party()
    for role, party in (("vendor", vendor), ("buyer", buyer)):
        for part in ("name", "address"):
            cand = getattr(party, part)
            if cand is not None and f"{role}_{part}" in kinds:
                found.put(view, f"{role}_{part}", cand.value, cand, cand.score)
