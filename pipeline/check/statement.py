"""Bank statement checks beyond the roll-forward (opening + transactions = closing, in validate.py).

- **Running balance.** Where rows print a balance, each must be the previous balance (or the
  opening balance, for the first row) plus the row's amount. The first row where the chain
  breaks is flagged: that is where a digit was misread. When the rows after it agree again, the
  message says which value is the likely misreading (the amount, or the printed balance).
- **Dates within the period.** A booking dated outside `period_start .. period_end` (a misread
  day, or a year guessed wrongly for a `dd.mm.` date across a year end) is flagged.

Like every check here, these read the data only and report issues with the numbers involved.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

from ledgerlens.pipeline.money import to_decimal
from ledgerlens.pipeline.types import Issue, Severity

STAGE = "validate"
CENT = Decimal("0.01")


def _day(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def running_balance_issues(data: dict[str, Any]) -> Iterator[Issue]:
    rows = [r for r in data.get("transactions") or [] if isinstance(r, dict)]
    chain: list[tuple[int, Decimal, Decimal]] = []  # (row, amount, printed balance) of rows printing both
    for i, row in enumerate(rows):
        amount, balance = to_decimal(row.get("amount")), to_decimal(row.get("balance"))
        if amount is None or balance is None:
            chain = []  # a row without them cuts the chain: compare only neighbours that print both
            continue
        chain.append((i, amount, balance))
        previous = chain[-2][2] if len(chain) > 1 else (to_decimal(data.get("opening_balance")) if i == 0 else None)
        if previous is None or abs(previous + amount - balance) <= CENT:
            continue
        yield Issue(
            STAGE, "running_balance_mismatch", Severity.ERROR,
            f"row {i + 1}: balance {previous} + amount {amount} = {previous + amount}, but the row's balance reads "
            f"{balance} (difference {balance - previous - amount}); {_likely(rows, i, previous)}",
            field=f"transactions[{i}].{_likely_field(rows, i, previous)}",
        )  # fmt: skip
        return  # the first break only: the rows after it repeat the same difference


def _next(rows: list[dict[str, Any]], i: int) -> tuple[Decimal, Decimal] | None:
    if i + 1 >= len(rows):
        return None
    amount, balance = to_decimal(rows[i + 1].get("amount")), to_decimal(rows[i + 1].get("balance"))
    return (amount, balance) if amount is not None and balance is not None else None


def _likely_field(rows: list[dict[str, Any]], i: int, previous: Decimal) -> str:
    """'balance' when the next row continues from what this balance should have been."""
    following, balance = _next(rows, i), to_decimal(rows[i].get("balance"))
    amount = to_decimal(rows[i].get("amount"))
    if following is None or balance is None or amount is None:
        return "amount"
    expected = previous + amount
    return "balance" if abs(expected + following[0] - following[1]) <= CENT else "amount"


def _likely(rows: list[dict[str, Any]], i: int, previous: Decimal) -> str:
    if _likely_field(rows, i, previous) == "balance" and _next(rows, i) is not None:
        return "the next row continues from the computed balance: this row's printed balance is probably misread"
    if _next(rows, i) is not None:
        return "the next rows continue from this printed balance: this row's amount is probably misread"
    return "the amount or the balance of this row is probably misread"


def period_issues(data: dict[str, Any]) -> Iterator[Issue]:
    start, end = _day(data.get("period_start")), _day(data.get("period_end"))
    if start is None or end is None or end < start:
        return
    outside = [
        (i, day)
        for i, row in enumerate(data.get("transactions") or [])
        if isinstance(row, dict) and (day := _day(row.get("date"))) is not None and not start <= day <= end
    ]
    if not outside:
        return
    i, day = outside[0]
    more = f"; {len(outside) - 1} more row(s) outside it" if len(outside) > 1 else ""
    yield Issue(
        STAGE, "date_outside_period", Severity.WARNING,
        f"row {i + 1} is dated {day}, outside the statement period {start} .. {end} (a misread day, or the "
        f"year of a date printed without one){more}",
        field=f"transactions[{i}].date",
    )  # fmt: skip


def statement_issues(data: dict[str, Any]) -> list[Issue]:
    """Every statement check for data that holds transactions (nothing for other documents)."""
    if not isinstance(data.get("transactions"), list):
        return []
    return [*running_balance_issues(data), *period_issues(data)]
