"""Bank statements in the store as typed data: accounts, periods and lines with `Decimal` amounts.

A statement is any stored document whose data holds `transactions` (a list of rows with a date
and an amount): the packaged `bank_statement` type, or a workspace type shaped the same way.
Failed documents are left out; rows whose date or amount does not parse are left out of the
lines and counted (`BankStatement.unreadable`), so a caller can say what it could not use.

Every bank file format, the categorization and the reconciliation read statements through
`bank_statements`; none of them parses the stored strings again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from ledgerlens.pipeline.books.store import StoredDocument
from ledgerlens.pipeline.money import to_decimal
from ledgerlens.pipeline.normalize import compact_id, fold, iban_is_valid
from ledgerlens.pipeline.types import Status

# An IBAN printed inside a booking text, grouped or not ("DE89 3704 0044 0532 0130 00").
_IBAN_IN_TEXT = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){11,30}\b")


def _day(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


# What a bank prints before the counterparty: the kind of booking, in our languages (folded).
_BOOKING_WORDS = re.compile(
    r"^(?:(?:sepa[- ]?)?(?:lastschrift|kartenzahlung|uberweisung|dauerauftrag|gutschrift|bargeldauszahlung|"
    r"gehalt|direct debit|card payment|debit card|pos|transfer(?: to| from)?|payment(?: to| from)?|"
    r"standing order|faster payment|bill payment|deposit|prelevement|paiement(?: par)? carte|carte|virement"
    r"(?: sepa)?(?: recu| emis)?|retrait|recibo|adeudo|compra(?: con)? tarjeta|pago(?: con)? tarjeta|"
    r"transferencia(?: recibida| emitida)?|abono|an|von|to|from|a|de|vers|para)\b[ :,.-]*)+",
)
_NOT_NAME = re.compile(r"\b(?:[A-Z]{2}\d{2}[A-Z0-9]{11,30}|\S*\d\S*)")


def counterparty_name(description: str) -> str:
    """Who the money went to or came from, as far as the booking text says: its first line without
    the kind of booking, IBANs and words holding digits (references, dates, card numbers)."""
    first = description.strip().splitlines()[0] if description.strip() else ""
    folded = fold(first)
    cut = _BOOKING_WORDS.match(folded)
    rest = first[cut.end() :] if cut and len(folded) == len(first) else first
    words = [w for w in _NOT_NAME.sub(" ", rest).split() if any(c.isalpha() for c in w)]
    return " ".join(words)[:70]


def ibans_in(text: str) -> list[str]:
    """The valid IBANs printed in `text` (spaces removed), in order."""
    out = []
    for m in _IBAN_IN_TEXT.finditer(text.upper()):
        iban = compact_id(m.group(0))
        # A grouped IBAN may run into the next word: shorten until the check digits agree.
        while len(iban) > 15 and not iban_is_valid(iban):
            iban = iban[:-1]
        if iban_is_valid(iban) and iban not in out:
            out.append(iban)
    return out


@dataclass(frozen=True)
class BankLine:
    """One transaction: signed amount (negative = money out), the text the bank printed."""

    doc_id: int
    index: int  # position in the statement's `transactions`
    date: date
    amount: Decimal
    description: str
    balance: Decimal | None = None
    account: str | None = None  # a booking account a reviewer gave this line
    invoice_number: str | None = None  # the invoice(s) a reviewer says it pays

    @property
    def field(self) -> str:
        """The line's path in the document's data (what the Review sheet and corrections name)."""
        return f"transactions[{self.index}]"

    @property
    def counterparty_ibans(self) -> list[str]:
        return ibans_in(self.description)

    @property
    def counterparty(self) -> str:
        return counterparty_name(self.description)


@dataclass(frozen=True)
class BankStatement:
    doc: StoredDocument
    iban: str | None
    account_number: str | None
    currency: str
    bank_name: str | None
    holder: str | None
    period_start: date | None
    period_end: date | None
    statement_date: date | None
    opening: Decimal | None
    closing: Decimal | None
    lines: tuple[BankLine, ...]
    unreadable: int  # rows left out: no date or amount that parses

    @property
    def account_id(self) -> str:
        """What names the account: its IBAN, else its account (or card) number."""
        return self.iban or (compact_id(self.account_number) if self.account_number else "") or "UNKNOWN"

    @property
    def first_day(self) -> date | None:
        return self.period_start or (min(ln.date for ln in self.lines) if self.lines else None)

    @property
    def last_day(self) -> date | None:
        return self.period_end or (max(ln.date for ln in self.lines) if self.lines else self.statement_date)

    @property
    def source_name(self) -> str:
        return self.doc.result.source_name


def is_statement(doc: StoredDocument) -> bool:
    txns = doc.result.data.get("transactions")
    return doc.result.status is not Status.FAILED and isinstance(txns, list)


def bank_statement(doc: StoredDocument) -> BankStatement:
    data = doc.result.data
    lines, unreadable = [], 0
    for i, row in enumerate(data.get("transactions") or []):
        day = _day(row.get("date")) if isinstance(row, dict) else None
        amount = to_decimal(row.get("amount")) if isinstance(row, dict) else None
        if day is None or amount is None:
            unreadable += 1
            continue
        lines.append(
            BankLine(
                doc.id, i, day, amount, str(row.get("description") or "").strip(), to_decimal(row.get("balance")),
                row.get("account") or None, row.get("invoice_number") or None,
            )
        )  # fmt: skip
    iban = compact_id(data["iban"]) if data.get("iban") else None
    return BankStatement(
        doc=doc,
        iban=iban,
        account_number=data.get("account_number") or None,
        currency=data.get("currency") or "",
        bank_name=data.get("bank_name") or None,
        holder=data.get("account_holder") or None,
        period_start=_day(data.get("period_start")),
        period_end=_day(data.get("period_end")),
        statement_date=_day(data.get("statement_date")),
        opening=to_decimal(data.get("opening_balance")),
        closing=to_decimal(data.get("closing_balance")),
        lines=tuple(lines),
        unreadable=unreadable,
    )


def bank_statements(docs: list[StoredDocument]) -> list[BankStatement]:
    """The statements among `docs`, in the order given."""
    return [bank_statement(d) for d in docs if is_statement(d)]


def in_period(day: date, period: str | None) -> bool:
    """`period` is YYYY-MM or YYYY (None: every day)."""
    return period is None or day.isoformat().startswith(period + ("-" if len(period) == 4 else ""))
