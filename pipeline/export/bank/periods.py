"""The statements of each account over a period: lines in date order, balances before and after.

Every bank import format writes one file per account and period. Statements of one account are
put together in period order; a statement the store-wide check marked as a duplicate of another
(`books/statement_checks.py`) is left out, so no line is written twice. With `--period`, lines
outside it are dropped and the opening balance is carried forward over them.

A balance the statement does not print is worked out from the other one (opening + lines =
closing) or from the first line's running balance; an account with no balance at all cannot be
written (a bank file without balances would be wrong): it is left out with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from ledgerlens.pipeline.books.bank import BankLine, BankStatement, bank_statements, in_period
from ledgerlens.pipeline.books.statement_checks import DUPLICATE
from ledgerlens.pipeline.books.store import StoredDocument

if TYPE_CHECKING:
    from ledgerlens.pipeline.export.registry import ExportRequest


@dataclass(frozen=True)
class AccountPeriod:
    """One account over one period: what a bank file holds."""

    account_id: str  # IBAN, else account/card number
    iban: str | None
    account_number: str | None
    currency: str
    bank_name: str | None
    holder: str | None
    start: date
    end: date
    opening: Decimal
    closing: Decimal
    lines: tuple[BankLine, ...]
    statements: tuple[BankStatement, ...]
    card: bool  # a credit-card account (no IBAN, a card number)

    @property
    def sha_prefix(self) -> dict[int, str]:
        """Document id -> the first 10 hex digits of its sha256 (stable transaction ids)."""
        return {s.doc.id: s.doc.result.sha256[:10] for s in self.statements}

    def transaction_id(self, line: BankLine) -> str:
        return f"{self.sha_prefix[line.doc_id]}-{line.index:04d}"

    def file_name(self, ext: str, suffix: str = "") -> str:
        return f"{self.account_id}_{self.start.isoformat()}_{self.end.isoformat()}{suffix}.{ext}"


@dataclass
class Periods:
    accounts: list[AccountPeriod]
    left_out: list[tuple[str, str]]  # (source file, why)


def _opening(st: BankStatement) -> Decimal | None:
    if st.opening is not None:
        return st.opening
    moved = sum((ln.amount for ln in st.lines), Decimal(0))
    if st.closing is not None:
        return st.closing - moved
    first = st.lines[0] if st.lines else None
    return first.balance - first.amount if first is not None and first.balance is not None else None


def _is_card(st: BankStatement) -> bool:
    number = st.account_number or ""
    return st.iban is None and (any(c in number for c in "*xX•") or sum(c.isdigit() for c in number) in range(13, 20))


def account_periods(docs: list[StoredDocument], period: str | None = None) -> Periods:
    out = Periods([], [])
    groups: dict[str, list[BankStatement]] = {}
    for st in bank_statements(docs):
        if any(i.code == DUPLICATE for i in st.doc.result.issues):
            out.left_out.append((st.source_name, "a duplicate of another statement of the account"))
        elif not st.lines:
            out.left_out.append((st.source_name, "no transaction with a date and an amount"))
        elif _opening(st) is None:
            out.left_out.append((st.source_name, "neither an opening nor a closing balance nor a running balance"))
        else:
            groups.setdefault(st.account_id, []).append(st)
    for statements in groups.values():
        statements.sort(key=lambda s: (s.first_day or date.max, s.doc.id))
        account = _account_period(statements, period)
        if account is not None:
            out.accounts.append(account)
    return out


def _account_period(statements: list[BankStatement], period: str | None) -> AccountPeriod | None:
    first = statements[0]
    opening = _opening(first) or Decimal(0)
    lines: list[BankLine] = []
    for st in statements:
        for ln in sorted(st.lines, key=lambda x: (x.date, x.index)):
            if in_period(ln.date, period):
                lines.append(ln)
            elif not lines:  # before the period: carried into the opening balance
                opening += ln.amount
    if not lines:
        return None
    days = [ln.date for ln in lines]
    start = min(days) if period else min(first.first_day or days[0], days[0])
    end = max(days) if period else max(statements[-1].last_day or days[-1], days[-1])
    return AccountPeriod(
        account_id=first.account_id,
        iban=first.iban,
        account_number=first.account_number,
        currency=first.currency or "EUR",
        bank_name=first.bank_name,
        holder=first.holder,
        start=start,
        end=end,
        opening=opening,
        closing=opening + sum((ln.amount for ln in lines), Decimal(0)),
        lines=tuple(lines),
        statements=tuple(statements),
        card=_is_card(first),
    )


def bank_folder(request: ExportRequest) -> Path:
    """Where bank files go: --output, else exports/bank/."""
    return request.output or request.workspace_root / "exports" / "bank"


def left_out(request: ExportRequest) -> list[tuple[str, str]]:
    """The registry's report of what a bank format could not write."""
    return account_periods(request.docs, request.period).left_out
