"""The field finder: fills a document type's schema from words with boxes (OCR or text layer).

Each field is found from evidence a person would use — a label and where its value sits, the
shape of an IBAN or VAT id, a block of rows under "Bill to" — and candidates are reconciled
(totals must add up). Every value carries its evidence: page, box, how it was found, and a
confidence from the label's strength, the value's position and the OCR confidence.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from ledgerlens.pipeline.doctypes.schemas import DocumentSchema
from ledgerlens.pipeline.engines.memory import VendorMemory
from ledgerlens.pipeline.engines.ocr.finder import header, parties
from ledgerlens.pipeline.engines.ocr.finder.amounts import AMOUNT_FIELDS, amount_candidates, tax_breakdown
from ledgerlens.pipeline.engines.ocr.finder.found import Found, guess_decimal_sep
from ledgerlens.pipeline.engines.ocr.finder.generic import find_by_labels
from ledgerlens.pipeline.engines.ocr.finder.lexicon import lexicon_for
from ledgerlens.pipeline.engines.ocr.finder.memory import Lesson, judge_places, learn_vendor, vendor_clues
from ledgerlens.pipeline.engines.ocr.finder.recall import name_printed, recall_fields
from ledgerlens.pipeline.engines.ocr.finder.statements import (
    holder_candidates,
    is_card_statement,
    period_fallback,
    statement_transactions,
)
from ledgerlens.pipeline.engines.ocr.finder.tables import line_items, receipt_items
from ledgerlens.pipeline.engines.ocr.finder.totals import document_totals
from ledgerlens.pipeline.engines.ocr.finder.view import Candidate, DocView
from ledgerlens.pipeline.normalize import format_amount
from ledgerlens.pipeline.types import FieldEvidence, Page


def find_fields(
    pages: list[Page],
    schema: DocumentSchema,
    subtype: str | None = None,
    memory: VendorMemory | None = None,
    *,
    negative_totals: bool = False,
) -> Found:
    """The fields of `schema`'s type on these pages, read the way its card says (`finder`): a
    packaged type's own finder, or the generic label -> value finder driven by the card.

    With a vendor `memory`, a document whose vendor the memory knows is read the way that
    vendor's corrected documents were first; the general finder fills whatever it cannot place.
    Totals are never negative unless the document is a credit note, or `negative_totals` says its
    totals are known to be (its e-invoice XML)."""
    view = DocView(pages, lexicon_for(schema.labels))
    found = Found()
    if not view.rows:
        return found
    finder = schema.card.finder
    if finder == "statement":
        _statement(view, found)
    elif finder in ("invoice", "receipt"):
        _invoice_or_receipt(view, found, finder, subtype, negative_totals)
    else:
        find_by_labels(view, found, schema, subtype)
    if memory is not None:
        _recall(view, found, schema, memory)
    return found


def _recall(view: DocView, found: Found, schema: DocumentSchema, memory: VendorMemory) -> None:
    profile = memory.recall(schema.doc_type, vendor_clues(view, found.data))
    if profile is None:
        return
    named = found.evidence.get("vendor_name")
    if named is not None and named.confidence >= 0.75 and not name_printed(view, profile.name):
        return  # the ids point at a vendor whose name this page does not print, and it names another
    fields = recall_fields(view, profile, found, schema)
    found.memory = {"vendor": profile.name, "vendor_id": profile.vendor_id, "corrections": profile.corrections,
                    "fields": sorted(fields)}  # fmt: skip


def learn_from_pages(
    pages: list[Page], data: dict[str, Any], schema: DocumentSchema, memory: VendorMemory | None = None
) -> Lesson | None:
    """What a corrected document teaches the vendor memory (None: nothing tells its vendor). With
    the `memory`, the places it already knows for this vendor are checked against the corrected
    values: a place that now points at another value is marked as a miss."""
    view = DocView(pages, lexicon_for(schema.labels))
    lesson = learn_vendor(view, data, schema) if view.rows else None
    known = memory.recall(schema.doc_type, lesson.clues) if lesson is not None and memory is not None else None
    if lesson is not None and known is not None:
        lesson.missed, lesson.judged = judge_places(view, known, data, schema), known.vendor_id
    return lesson


def _best(cands: list[Candidate]) -> Candidate | None:
    return max(cands, key=lambda c: c.score) if cands else None


def _invoice_or_receipt(view: DocView, found: Found, doc_type: str, subtype: str | None, negative: bool) -> None:
    day_first = header.guess_day_first(view)
    dec = guess_decimal_sep(view)
    number_field = "invoice_number" if doc_type == "invoice" else "receipt_number"
    if doc_type == "invoice" and subtype:
        found.data["document_subtype"] = subtype
        found.evidence["document_subtype"] = FieldEvidence(0.9, source="classifier")

    num = _best(header.document_number(view))
    if num:
        found.put(view, number_field, num.value, num, num.score)

    due = _best(header.dated(view, "due_date", day_first=day_first))
    issued = header.dated(view, "date", day_first=day_first)
    issued = [c for c in issued if due is None or c.row is not due.row or c.words != due.words]
    issue = _best(issued)
    if issue is None:
        # No labelled date: the date printed on the page, if there is just one (receipts), is it.
        fallback = [c for c in header.all_dates(view, day_first=day_first) if not (due and c.value == due.value)]
        if fallback:
            issue = fallback[0]
            distinct = {c.value for c in fallback}
            if not issue.source.endswith("(repaired)"):
                issue.score = 0.8 if len(distinct) == 1 else 0.6 if doc_type == "receipt" else 0.45
    if issue:
        found.put(view, "date", issue.value, issue, issue.score)
    if due and doc_type == "invoice":
        found.put(view, "due_date", due.value, due, due.score)

    if doc_type == "invoice":
        for name, fld in (("order_number", "order_number"), ("buyer_reference", "buyer_reference")):
            ref = _best(header.reference(view, fld))
            if ref:
                found.put(view, name, ref.value, ref, ref.score * 0.9)

    _parties(view, found, doc_type)
    _tax_ids(view, found, doc_type)

    iban = _best(header.ibans(view))
    if iban and doc_type == "invoice":
        found.put(view, "iban", iban.value, iban, iban.score)
        bic = _best(header.bics(view))
        if bic:
            found.put(view, "bic", bic.value, bic, bic.score)

    items = line_items(view, dec) or (receipt_items(view, dec) if doc_type == "receipt" else [])
    totals, _ = document_totals(view, dec, items, credit=subtype == "credit_note" or negative)
    if totals.credit and doc_type == "invoice" and subtype != "credit_note" and not negative:
        found.data["document_subtype"] = "credit_note"  # it prints its totals negative
        found.evidence["document_subtype"] = FieldEvidence(0.7, source="negative totals")
    amount_fields = AMOUNT_FIELDS if doc_type == "invoice" else ("total_amount", "net_amount", "tax_amount")
    for name in amount_fields:
        cand = totals.chosen.get(name)
        if cand is not None:
            boost = 0.15 if totals.consistent and name in ("total_amount", "net_amount", "tax_amount") else 0.0
            found.put(view, name, cand.value, cand, cand.score + boost)
    if "total_amount" not in found.data and "amount_due" in totals.chosen:
        due_c = totals.chosen["amount_due"]
        found.put(view, "total_amount", due_c.value, due_c, due_c.score * 0.7)

    codes = [c.extra.get("currency") for c in totals.chosen.values() if c.extra.get("currency")]
    cur = header.currency(view, [str(c) for c in codes], found.data.get("iban"))
    if cur:
        found.data["currency"] = cur[0]
        found.evidence["currency"] = FieldEvidence(cur[1], source=f"currency:{cur[2]}")

    _tax_breakdown(view, found, dec, items)
    if items:
        found.data["line_items"] = [it.data for it in items]
        conf = min(it.confidence for it in items)
        found.evidence["line_items"] = FieldEvidence(conf, items[0].page + 1, None, "table", "")


def _tax_breakdown(view: DocView, found: Found, dec: str | None, items: list) -> None:
    """VAT per rate. A basis the page does not print beside the rate comes from the lines at that
    rate, or, with a single rate, from the net amount."""
    entries = tax_breakdown(view, dec)
    if not entries:
        return
    rows = []
    for e in entries:
        rate, basis, tax = e.rate, e.basis, e.tax
        if basis is None:
            at_rate = [it.data for it in items if it.data.get("tax_rate") and Decimal(it.data["tax_rate"]) == rate]
            if at_rate and all("amount" in d for d in at_rate):
                basis = sum((Decimal(d["amount"]) for d in at_rate), Decimal(0))
            elif len(entries) == 1 and "net_amount" in found.data:
                basis = Decimal(found.data["net_amount"])
        row = {"rate": format_amount(rate), "tax_amount": format_amount(tax)}  # 8.625 stays 8.625
        if basis is not None:
            row["basis_amount"] = format_amount(basis)
        rows.append(row)
    found.data["tax_breakdown"] = rows
    found.evidence["tax_breakdown"] = FieldEvidence(0.7, source="tax rows")
    if len(rows) == 1:  # one rate for the whole document: its VAT rate
        found.data["vat_rate"] = rows[0]["rate"]
        found.evidence["vat_rate"] = FieldEvidence(0.7, source="tax rows")


def _parties(view: DocView, found: Found, doc_type: str) -> None:
    buyer = parties.labelled_party(view, "buyer") if doc_type == "invoice" else parties.Party()
    vendor = parties.find_sender(view, header.buyer_zone(view, 0))
    if doc_type == "receipt":  # receipts: the shop's name is at the top, before anything else
        top = parties.top_party(view, None)
        if top.name and (vendor.name is None or top.name.row.index < vendor.name.row.index):
            vendor = top
    if vendor.name:
        vendor.name = parties.complete_name(view, vendor.name)
    for role, party in (("vendor", vendor), ("buyer", buyer)):
        if party.name:
            found.put(view, f"{role}_name", party.name.value, party.name, party.name.score)
        if party.address:
            found.put(view, f"{role}_address", party.address.value, party.address, party.address.score)


def _tax_ids(view: DocView, found: Found, doc_type: str) -> None:
    vendor_ids, buyer_ids = [], []
    for cand in header.vat_ids(view):
        buyer = cand.extra.get("role") == "buyer" or header.is_buyer_side(view, cand.row, cand.words)
        if doc_type == "invoice" and buyer:
            buyer_ids.append(cand)
        else:
            vendor_ids.append(cand)
    if vendor_ids:
        v = vendor_ids[0]
        found.put(view, "vendor_vat_id", v.value, v, v.score)
    if buyer_ids and doc_type == "invoice":
        b = buyer_ids[0]
        if b.value != found.data.get("vendor_vat_id"):
            found.put(view, "buyer_vat_id", b.value, b, b.score)
    if doc_type == "invoice":
        tn = _best(header.tax_number(view))
        if tn:
            found.put(view, "vendor_tax_number", tn.value, tn, tn.score * 0.9)


def _balance(cands: list[Candidate], *, last: bool) -> Candidate | None:
    """Of the best-labelled balances, the first one printed (opening) or the last (closing): the
    same labels return on every page ("brought forward", "carried forward")."""
    best = _best(cands)
    if best is None:
        return None
    top = [c for c in cands if c.score >= best.score - 0.15]  # a date between label and value costs a little
    order = sorted(top, key=lambda c: (c.row.page, c.row.index))
    return order[-1] if last else order[0]


def _rolls_forward(data: dict) -> bool:
    if "opening_balance" not in data or "closing_balance" not in data:
        return False
    moved = sum((Decimal(t["amount"]) for t in data["transactions"]), Decimal(0))
    return Decimal(data["opening_balance"]) + moved == Decimal(data["closing_balance"])


def _statement(view: DocView, found: Found) -> None:
    day_first = header.guess_day_first(view)
    dec = guess_decimal_sep(view)
    iban = _best(header.ibans(view))
    if iban:
        found.put(view, "iban", iban.value, iban, iban.score)
    stmt_date = _best(header.dated(view, "statement_date", day_first=day_first))
    period = _best(header.period(view, day_first=day_first))
    if period:
        start, end = period.value
        found.put(view, "period_start", start, period, period.score)
        found.put(view, "period_end", end, period, period.score)
    else:
        dates = period_fallback(view, day_first=day_first)  # a month name the OCR split ("J an")
        if dates:
            for name, value in zip(("period_start", "period_end"), dates, strict=True):
                found.data[name] = value.isoformat()
                found.evidence[name] = FieldEvidence(0.6, source="period (repaired)")
    if stmt_date:
        found.put(view, "statement_date", stmt_date.value, stmt_date, stmt_date.score)
    for name in ("account_holder", "account_number"):
        ref = _best(holder_candidates(view) if name == "account_holder" else []) or _best(header.reference(view, name))
        if ref:
            found.put(view, name, ref.value, ref, ref.score * 0.9)
    bank = (
        parties.sender_line(view).name
        or parties.legal_form_party(view, None).name
        or parties.top_party(view, None).name
    )
    if bank:
        found.put(view, "bank_name", bank.value, bank, min(bank.score, 0.6))
    card = is_card_statement(view)
    for name in ("opening_balance", "closing_balance"):
        cand = _balance(amount_candidates(view, name, dec), last=name == "closing_balance")
        if cand:
            found.put(view, name, -cand.value if card else cand.value, cand, cand.score)
    reference_date = stmt_date.value if stmt_date else (period.value[1] if period else None)
    dates = (date.fromisoformat(found.data["period_start"]), date.fromisoformat(found.data["period_end"])) if (
        "period_start" in found.data and "period_end" in found.data) else None  # fmt: skip
    txns = statement_transactions(view, dec, day_first=day_first, statement_date=reference_date, period=dates)
    if txns:
        found.data["transactions"] = [t.data for t in txns]
        conf = min(t.confidence for t in txns)
        if _rolls_forward(found.data):  # opening + every amount = closing: the rows are read right
            conf = max(conf, 0.9)
        found.evidence["transactions"] = FieldEvidence(conf, txns[0].page + 1, None, "table")
    cur = header.currency(view, [], found.data.get("iban"))
    if cur:
        found.data["currency"] = cur[0]
        found.evidence["currency"] = FieldEvidence(cur[1], source=f"currency:{cur[2]}")
