"""Which bank line paid which invoice or receipt: matching, with a score and a reason for each.

Open items are the booked documents (types whose card says "bill" or "paid": invoices and
receipts) that did not fail, with a total. Lines are taken in date order over every statement;
each payment lowers what is open, so several partial payments of one invoice add up and a later
line cannot pay what an earlier one already paid. The evidence for a line against an item:

- **reference**: the item's number printed in the booking text (separators ignored, whole);
- **amount**: the open amount exactly, or less the cash discount the invoice's `payment_terms`
  allow when paid within their days ("2 % Skonto bis 10 Tage", "2/10 net 30");
- **party**: the item's IBAN printed in the text, or the vendor's name (all its words);
- **date**: from a week before the document's date to 120 days after its due date (or date);
  a line outside that window is no candidate; one within the payment terms scores a little more.
A document in another currency than the statement's is no candidate.

A line is **matched** when an amount agrees and a reference or the party backs it, and no other
item is as good; one payment of several invoices is matched by their references, or by the only
set of one vendor's open items that adds up to it. A reference (or the party) with a smaller
amount is a **partial** payment. Anything weaker, or two equally good items, is **suggested** for
review and marks nothing paid; nothing at all is **unmatched**. A line a reviewer gave an
`invoice_number` is matched to those invoices (score 1.0).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from ledgerlens.pipeline.books.bank import BankLine, BankStatement, bank_statements
from ledgerlens.pipeline.books.store import StoredDocument
from ledgerlens.pipeline.doctypes.schemas import DocumentSchema, packaged_schemas
from ledgerlens.pipeline.money import to_decimal
from ledgerlens.pipeline.normalize import compact_id, fold, vendor_key
from ledgerlens.pipeline.types import Status

CENT = Decimal("0.01")
EARLY = timedelta(days=7)
LATE = timedelta(days=120)
MAX_SET = 12  # open items of one vendor tried as sums (2**12 subsets)
_DISCOUNT = [
    re.compile(r"(\d+(?:[.,]\d+)?)\s*%\s*(?:skonto|discount|escompte|descuento|sconto)\D{0,40}?(\d+)\s*"
               r"(?:tage|tagen|days|jours|dias|giorni)"),
    re.compile(r"(?:innerhalb|within|sous|dans|en|entro)\s*(?:von\s*)?(\d+)\s*(?:tage|tagen|days|jours|dias|giorni)"
               r"\D{0,40}?(\d+(?:[.,]\d+)?)\s*%"),
    re.compile(r"\b(\d+(?:\.\d+)?)\s*/\s*(\d+)\s*,?\s*net\s*\d+"),
]  # fmt: skip


def cash_discount(terms: str | None) -> tuple[Decimal, int] | None:
    """(percent, days) from printed payment terms, or None."""
    text = fold(terms or "")
    for n, pattern in enumerate(_DISCOUNT):
        m = pattern.search(text)
        if m:
            pct, days = (m[2], m[1]) if n == 1 else (m[1], m[2])
            try:
                return Decimal(pct.replace(",", ".")), int(days)
            except (InvalidOperation, ValueError):
                return None
    return None


@dataclass(eq=False)
class OpenItem:
    doc: StoredDocument
    number: str
    vendor: str
    total: Decimal  # what is to be paid, positive
    direction: int  # -1: paid by money out; +1: money in (a credit note refunded)
    day: date
    due: date | None
    currency: str
    iban: str | None
    discount: tuple[Decimal, int] | None
    open: Decimal = Decimal(0)
    paid_by: list[tuple[BankLine, Decimal]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.open = self.total
        digits = [re.escape(c) for c in re.sub(r"[^0-9A-Za-z]", "", self.number).upper()]
        # Separators between the characters are ignored; the number must stand alone.
        body = r"[\s\-/.#_]?".join(digits)
        self.pattern = re.compile(rf"(?<![0-9A-Z]){body}(?![0-9A-Z])") if len(digits) >= 3 else None

    def discounted(self) -> Decimal | None:
        if self.discount is None or self.open != self.total:
            return None
        return (self.total * (100 - self.discount[0]) / 100).quantize(CENT, ROUND_HALF_UP)

    def overdue(self, as_of: date) -> bool:
        return self.open > 0 and self.due is not None and self.due < as_of


@dataclass
class Evidence:
    item: OpenItem
    ref: bool
    amount: str  # exact | discount | less | more | ""
    party: str  # iban | name | ""
    timely: bool

    @property
    def score(self) -> float:
        value = 0.45 * self.ref + (0.35 if self.amount in ("exact", "discount") else 0.0)
        value += {"iban": 0.25, "name": 0.2}.get(self.party, 0.0) + 0.05 * self.timely
        return round(min(value, 1.0), 2)

    @property
    def strength(self) -> tuple[bool, bool, int]:
        return (self.ref, self.amount in ("exact", "discount"), {"iban": 2, "name": 1}.get(self.party, 0))

    def reason(self) -> str:
        parts = []
        if self.ref:
            parts.append(f"number {self.item.number} in the text")
        if self.amount == "exact":
            parts.append(f"amount {self.item.open} = open amount")
        elif self.amount == "discount" and self.item.discount:
            parts.append(f"amount = {self.item.total} less {self.item.discount[0].normalize():f} % cash discount")
        elif self.amount == "less":
            parts.append(f"amount below the open {self.item.open}")
        elif self.amount == "more":
            parts.append(f"amount above the open {self.item.open}")
        if self.party:
            parts.append("the vendor's IBAN" if self.party == "iban" else f"vendor {self.item.vendor!r} named")
        return "; ".join(parts) or "date only"


@dataclass
class Allocation:
    item: OpenItem
    amount: Decimal  # of the line, towards this item
    open_after: Decimal


@dataclass
class LineMatch:
    line: BankLine
    statement: BankStatement
    status: str  # matched | partial | suggested | unmatched
    allocations: list[Allocation]
    score: float
    reason: str


def open_items(docs: list[StoredDocument], schemas: dict[str, DocumentSchema] | None = None) -> list[OpenItem]:
    types = packaged_schemas() if schemas is None else schemas
    items = []
    for doc in docs:
        r, card = doc.result, (types[doc.result.doc_type].card if doc.result.doc_type in types else None)
        if card is None or not card.books or r.status is Status.FAILED:
            continue
        data = r.data
        total = to_decimal(data.get("amount_due") or data.get("total_amount"))
        if total is None:
            continue
        try:
            day = date.fromisoformat(data["date"])
            due = date.fromisoformat(data["due_date"]) if data.get("due_date") else None
        except (InvalidOperation, KeyError, TypeError, ValueError):
            continue
        credit = data.get("document_subtype") == "credit_note" or total < 0
        items.append(
            OpenItem(
                doc, str(data.get(card.ref_field) or "") if card.ref_field else "", str(data.get("vendor_name") or ""),
                abs(total), 1 if credit else -1, day, due, data.get("currency") or "",
                compact_id(data["iban"]) if data.get("iban") else None, cash_discount(data.get("payment_terms")),
            )
        )  # fmt: skip
    return [i for i in items if i.total > 0]


def _evidence(line: BankLine, item: OpenItem, text: str, words: set[str]) -> Evidence | None:
    if (line.amount > 0) != (item.direction > 0) or item.open <= 0:
        return None
    if not item.day - EARLY <= line.date <= (item.due or item.day) + LATE:
        return None
    paid, discounted = abs(line.amount), item.discounted()
    within = item.discount is not None and line.date <= item.day + timedelta(days=item.discount[1])
    if paid == item.open:
        amount = "exact"
    elif discounted is not None and paid == discounted and within:
        amount = "discount"
    else:
        amount = "less" if paid < item.open else "more"
    party = "iban" if item.iban and item.iban in line.counterparty_ibans else ""
    key = vendor_key(item.vendor).split()
    if not party and key and set(key) <= words:
        party = "name"
    ref = bool(item.pattern and item.pattern.search(text))
    timely = line.date <= (item.due or item.day + timedelta(days=30)) + timedelta(days=14)
    return Evidence(item, ref, amount, party, timely)


def _settle(line: BankLine, st: BankStatement, chosen: list[Evidence], status: str, why: str) -> LineMatch:
    left, allocations = abs(line.amount), []
    for ev in chosen:
        part = min(left, ev.item.open) if ev is not chosen[-1] else left
        closes = ev.amount == "discount" or part >= ev.item.open
        ev.item.open = Decimal(0) if closes else ev.item.open - part
        ev.item.paid_by.append((line, part))
        allocations.append(Allocation(ev.item, part, ev.item.open))
        left -= part
    score = min(ev.score for ev in chosen) if status != "matched" or len(chosen) == 1 else 0.9
    return LineMatch(line, st, status, allocations, score, why)


def _subsets(evs: list[Evidence], target: Decimal) -> list[list[Evidence]]:
    found = []
    for size in range(2, min(len(evs), MAX_SET) + 1):
        for combo in itertools.combinations(evs[:MAX_SET], size):
            if sum((e.item.open for e in combo), Decimal(0)) == target:
                found.append(list(combo))
    return found


def _match_line(line: BankLine, st: BankStatement, items: list[OpenItem]) -> LineMatch:
    text = line.description.upper()
    words = set(vendor_key(line.description).split())
    currency = st.currency
    fits = [i for i in items if not (currency and i.currency and i.currency != currency)]  # EUR pays no GBP bill
    evs = [e for item in fits if (e := _evidence(line, item, text, words)) is not None]
    evs.sort(key=lambda e: (-e.score, e.item.day, e.item.doc.id))
    full = [e for e in evs if e.amount in ("exact", "discount") and (e.ref or e.party)]
    full.sort(key=lambda e: e.strength, reverse=True)
    # Two items backed alike (the same kind of evidence; being on time does not decide) stay a question.
    if full and (len(full) == 1 or full[0].strength > full[1].strength):
        return _settle(line, st, [full[0]], "matched", full[0].reason())
    if len(full) > 1:
        options = " or ".join(f"{e.item.number or e.item.doc.result.source_name}" for e in full[:3])
        return LineMatch(line, st, "suggested", [Allocation(full[0].item, abs(line.amount), full[0].item.open)],
                         full[0].score, f"as good for {options}: {full[0].reason()}")  # fmt: skip
    paid = abs(line.amount)
    referenced = [e for e in evs if e.ref]
    if len(referenced) >= 2 and sum((e.item.open for e in referenced), Decimal(0)) == paid:
        numbers = ", ".join(e.item.number for e in referenced)
        return _settle(line, st, referenced, "matched", f"one payment of {numbers}: their numbers in the text, "
                                                         f"their open amounts add up to {paid}")  # fmt: skip
    by_party = [e for e in evs if e.party]
    sets = _subsets(by_party, paid) if len(by_party) >= 2 else []
    if len(sets) == 1 and len({e.item.vendor for e in sets[0]}) == 1:
        numbers = ", ".join(e.item.number for e in sets[0])
        who = sets[0][0].reason().split("; ")[-1]
        why = f"one payment of {numbers} ({who}): the only set of its open items adding up to {paid}"
        return _settle(line, st, sets[0], "matched", why)
    part = [e for e in evs if e.amount == "less" and e.ref]
    if len(part) == 1:
        return _settle(line, st, part, "partial", f"partial payment: {part[0].reason()}")
    best = evs[0] if evs else None
    if best is not None and best.score >= 0.35:
        why = f"doubtful: {best.reason()}" + (f"; {len(sets)} sets of open items add up" if len(sets) > 1 else "")
        return LineMatch(line, st, "suggested", [Allocation(best.item, paid, best.item.open)], best.score, why)
    return LineMatch(line, st, "unmatched", [], 0.0, "no open invoice or receipt fits")


def _confirmed(line: BankLine, st: BankStatement, items: list[OpenItem]) -> LineMatch | None:
    """A line a reviewer gave invoice numbers: matched to those, as said."""
    wanted = [n.strip() for n in (line.invoice_number or "").split(";") if n.strip()]
    chosen = [i for n in wanted for i in items if i.number and compact_id(i.number) == compact_id(n) and i.open > 0]
    if not chosen:
        return None
    evs = [Evidence(i, True, "exact", "", True) for i in chosen]
    match = _settle(line, st, evs, "matched", f"confirmed by a reviewer: {', '.join(wanted)}")
    match.score = 1.0
    return match


# A document the store-wide checks found to repeat another (a scan of a booked PDF) is neither
# paid nor paying a second time.
DUPLICATE_CODES = frozenset({"duplicate_invoice", "duplicate_statement"})


def reconcile(docs: list[StoredDocument], schemas: dict[str, DocumentSchema] | None = None) -> Reconciliation:
    """Match every statement line among `docs` (in date order) with the open items among them;
    documents flagged as duplicates of others are left out."""
    docs = [d for d in docs if not any(i.code in DUPLICATE_CODES for i in d.result.issues)]
    items = open_items(docs, schemas)
    pairs = [(ln, st) for st in bank_statements(docs) for ln in st.lines]
    pairs.sort(key=lambda p: (p[0].date, p[0].doc_id, p[0].index))
    matches = []
    for line, st in pairs:
        matches.append(_confirmed(line, st, items) or _match_line(line, st, items))
    as_of = max((ln.date for ln, _ in pairs), default=None)
    return Reconciliation(matches, items, as_of)


@dataclass
class Reconciliation:
    lines: list[LineMatch]
    items: list[OpenItem]
    as_of: date | None  # the last day a statement covers: what "overdue" is measured against

    def open_items(self) -> list[OpenItem]:
        return [i for i in self.items if i.open > 0]

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(("matched", "partial", "suggested", "unmatched"), 0)
        for m in self.lines:
            out[m.status] += 1
        return out
