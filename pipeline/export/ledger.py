"""Purchase documents as double-entry bookings: the one model every accounting export writes.

An invoice (a bill) books its expense per VAT rate to the vendor's expense account (suspense when
the vendor is not in accounts.toml), its VAT to input tax, and its total to accounts payable; a
receipt books the total to the `paid` account instead. A credit note, or a document whose total
is negative, books the same lines on the other side. The lines are made so that every entry
balances: expenses are the total minus the VAT, split by the tax breakdown when its bases and
taxes add up to the total.

Which documents: invoices and receipts that did not fail, with a date and a total. Everything
else is returned as skipped, with the reason, so the caller can say what was left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from ledgerlens.pipeline.books.store import StoredDocument
from ledgerlens.pipeline.export.accounts import AccountMap
from ledgerlens.pipeline.money import to_decimal
from ledgerlens.pipeline.types import Status

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Posting:
    account: str
    debit: Decimal
    credit: Decimal
    description: str
    tax_code: str = ""
    tax_amount: Decimal | None = None
    rate: str | None = None  # the VAT rate an expense line is taxed at
    kind: str = "expense"  # expense | tax | counter


@dataclass(frozen=True)
class Entry:
    entry_id: str
    doc: StoredDocument
    date: date
    currency: str
    counterparty: str
    document_ref: str
    postings: list[Posting]
    reversed: bool  # a credit note or negative document: lines on the other side
    mapped: bool  # False: the vendor is not in accounts.toml and the expense went to suspense

    @property
    def data(self) -> dict[str, Any]:
        return self.doc.result.data

    def balance(self) -> Decimal:
        return sum((p.debit - p.credit for p in self.postings), Decimal(0))


@dataclass
class Ledger:
    entries: list[Entry] = field(default_factory=list)
    skipped: list[tuple[StoredDocument, str]] = field(default_factory=list)


def build_ledger(docs: list[StoredDocument], accounts: AccountMap) -> Ledger:
    ledger = Ledger()
    for doc in docs:
        reason = _skip_reason(doc, accounts)
        if reason:
            ledger.skipped.append((doc, reason))
        else:
            ledger.entries.append(_entry(doc, accounts))
    return ledger


def _skip_reason(doc: StoredDocument, accounts: AccountMap) -> str | None:
    r = doc.result
    if r.doc_type not in accounts.books:
        return f"a {r.doc_type} is not booked"
    if r.status is Status.FAILED:
        return "the document failed"
    if to_decimal(r.data.get("total_amount")) is None:
        return "no total amount"
    if not r.data.get("date"):
        return "no date"
    return None


def _entry(doc: StoredDocument, accounts: AccountMap) -> Entry:
    data = doc.result.data
    total = to_decimal(data["total_amount"]) or Decimal(0)
    reversed_ = data.get("document_subtype") == "credit_note" or total < 0
    vendor = data.get("vendor_name") or ""
    booking = accounts.books[doc.result.doc_type]
    number = str(data.get(booking.ref_field) or "") if booking.ref_field else ""
    text = f"{vendor} {number}".strip() or doc.result.source_name
    lines: list[Posting] = []
    taxes: dict[str, Decimal] = {}
    for amount, tax, rate in _expense_split(data, abs(total)):
        account = accounts.input_tax_account(rate, data) if tax else None
        if tax and account is None:  # not deductible (a rate the chart has no account for, a vendor abroad)
            amount, tax = amount + tax, None
        elif tax and account is not None:
            taxes[account] = taxes.get(account, Decimal(0)) + tax
        lines.append(
            Posting(accounts.expense_account(vendor), amount, Decimal(0), text, accounts.tax_code(vendor, rate, data),
                    tax, rate)
        )  # fmt: skip
    booked = sum((p.debit for p in lines), Decimal(0)) + sum(taxes.values(), Decimal(0))
    if booked != abs(total):  # tax of breakdown rows without a basis: to the first input-tax account
        first = next(iter(taxes), accounts.input_tax)
        taxes[first] = taxes.get(first, Decimal(0)) + abs(total) - booked
    for account, tax in taxes.items():
        lines.append(Posting(account, tax, Decimal(0), f"VAT {text}", "", tax, None, "tax"))
    counter = accounts.paid if booking.how == "paid" else accounts.payable
    lines.append(Posting(counter, Decimal(0), abs(total), text, kind="counter"))
    if reversed_:
        lines = [Posting(p.account, p.credit, p.debit, p.description, p.tax_code, p.tax_amount, p.rate, p.kind)
                 for p in lines]  # fmt: skip
    return Entry(
        entry_id=f"LL{doc.id:06d}",
        doc=doc,
        date=date.fromisoformat(data["date"]),
        currency=data.get("currency") or "",
        counterparty=vendor,
        document_ref=number,
        postings=lines,
        reversed=reversed_,
        mapped=accounts.vendor(vendor) is not None,
    )


def _breakdown_tax(data: dict[str, Any]) -> Decimal | None:
    taxes = [to_decimal(r.get("tax_amount")) for r in data.get("tax_breakdown") or []]
    return sum((t for t in taxes if t is not None), Decimal(0)) if taxes and None not in taxes else None


def _expense_split(data: dict[str, Any], total: Decimal) -> list[tuple[Decimal, Decimal | None, str | None]]:
    """(net amount, its VAT, rate) per expense line; the lines plus the VAT make the total."""
    tax = abs(to_decimal(data.get("tax_amount")) or _breakdown_tax(data) or Decimal(0))
    rows = data.get("tax_breakdown") or []
    parts = [(to_decimal(r.get("basis_amount")), to_decimal(r.get("tax_amount")), r.get("rate")) for r in rows]
    if parts and all(b is not None and t is not None for b, t, _ in parts):
        bases = sum((abs(b) for b, _, _ in parts if b is not None), Decimal(0))
        taxes = sum((abs(t) for _, t, _ in parts if t is not None), Decimal(0))
        if bases + taxes == total and taxes == tax:
            return [(abs(b), abs(t), rate) for b, t, rate in parts if b is not None and t is not None and b != 0]
    rate = data.get("vat_rate")
    if rate in (None, "") and len({r.get("rate") for r in rows}) == 1:
        rate = rows[0].get("rate")
    return [(total - tax, tax if tax else None, rate)]


def in_period(doc: StoredDocument, period: str | None) -> bool:
    """`period` is YYYY-MM or YYYY; a document without a date is in no period, except a statement:
    it is in every period its own (period_start .. period_end, else its transactions' dates) touches."""
    if period is None:
        return True
    data = doc.result.data
    when = data.get("date")
    if when is None and isinstance(data.get("transactions"), list):
        start, end = data.get("period_start"), data.get("period_end")
        if isinstance(start, str) and isinstance(end, str):
            return start[: len(period)] <= period <= end[: len(period)]
        days = [t.get("date") for t in data["transactions"] if isinstance(t, dict)]
        return any(isinstance(d, str) and d.startswith(period) for d in days)
    return isinstance(when, str) and when.startswith(period + ("-" if len(period) == 4 else ""))


def money(value: Decimal | None) -> str:
    return "" if value is None else f"{value.quantize(CENT):f}"
