"""Categories reviewers gave bank lines, kept as rules the next categorization uses.

When a correction sets a statement line's `account` (`transactions[3].account`, from the
workbook's Review sheet, `review correct` or any other surface: all go through
`review.apply_corrections`), the line's counterparty becomes a rule in the `bank_rules` table:
its IBAN when the booking text prints one, else its name (the booking text without the kind of
booking, references and dates). The next `export` or `reconcile` books every line of that
counterparty to the same account. A later correction for the same counterparty replaces the rule.
Rows are keyed by (kind, key); who and when and from which document are kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from ledgerlens.pipeline.books.bank import counterparty_name, ibans_in
from ledgerlens.pipeline.books.store import Base, Store, StoredDocument
from ledgerlens.pipeline.normalize import fold
from sqlalchemy import DateTime, Integer, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column

_ACCOUNT_FIELD = re.compile(r"^transactions\[(\d+)\]\.account$")


class LearnedRuleRow(Base):
    __tablename__ = "bank_rules"
    __table_args__ = (UniqueConstraint("kind", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(20))  # iban | counterparty
    key: Mapped[str] = mapped_column(String(200))
    account: Mapped[str] = mapped_column(String(80))
    example: Mapped[str] = mapped_column(String(500))  # the booking text it was learned from
    sha256: Mapped[str] = mapped_column(String(64))  # the statement
    user: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


@dataclass(frozen=True)
class LearnedRule:
    kind: str
    key: str
    account: str
    example: str
    user: str
    at: datetime


def ensure_table(store: Store) -> None:
    Base.metadata.create_all(store.engine, tables=[Base.metadata.tables[LearnedRuleRow.__tablename__]])


def rule_key(description: str) -> tuple[str, str] | None:
    """(kind, key) that names a line's counterparty: its IBAN, else its name (folded)."""
    ibans = ibans_in(description)
    if ibans:
        return "iban", ibans[0]
    name = fold(counterparty_name(description)).strip()
    return ("counterparty", name) if len(name) >= 3 else None


def learn_from_corrections(
    store: Store, before: StoredDocument, changes: list[tuple[str, object]], user: str, now: datetime
) -> int:
    """Turn corrected `transactions[i].account` values into rules; returns how many were kept."""
    rows = before.result.data.get("transactions") or []
    kept = 0
    ensure_table(store)
    for field, value in changes:
        m = _ACCOUNT_FIELD.match(field)
        if not m or not value or int(m.group(1)) >= len(rows) or not isinstance(rows[int(m.group(1))], dict):
            continue
        description = str(rows[int(m.group(1))].get("description") or "")
        key = rule_key(description)
        if key is None:
            continue
        with store.session() as s:
            row = s.scalar(select(LearnedRuleRow).where(LearnedRuleRow.kind == key[0], LearnedRuleRow.key == key[1]))
            if row is None:
                row = LearnedRuleRow(kind=key[0], key=key[1])
                s.add(row)
            row.account, row.example, row.sha256 = str(value), description[:500], before.result.sha256
            row.user, row.at = user, now
        kept += 1
    return kept


def learned_rules(store: Store) -> list[LearnedRule]:
    """Every learned rule, newest first (a newer rule is more specific to what reviewers want now)."""
    ensure_table(store)
    with store.session() as s:
        rows = s.scalars(select(LearnedRuleRow).order_by(LearnedRuleRow.at.desc(), LearnedRuleRow.id.desc()))
        return [LearnedRule(r.kind, r.key, r.account, r.example, r.user, r.at) for r in rows]
