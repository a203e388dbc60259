"""The reconciliation as kept in the store: one row per bank line and document it went to.

`ledgerlens reconcile` writes the `bank_matches` table; the workbook's Reconciliation sheet and
the journal's bank lines read it, so exports stay a function of the store. A line that paid
several invoices has a row per invoice; an unmatched line one row without a document. An
invoice is **paid** when a matched row leaves nothing of it open (`paid_documents`): the date
and the transaction are on that row. Rows are keyed by the statement's sha256 and the line's
index, so they survive re-processing the same bytes; a run replaces the rows of the lines it
reconciled (every line up to the end of its period) and leaves later ones alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from ledgerlens.pipeline.books.reconcile import Reconciliation
from ledgerlens.pipeline.books.store import Base, Store
from sqlalchemy import Date, DateTime, Float, Integer, String, delete, select
from sqlalchemy.orm import Mapped, mapped_column


class MatchRowTable(Base):
    __tablename__ = "bank_matches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    statement_sha256: Mapped[str] = mapped_column(String(64), index=True)
    line_index: Mapped[int] = mapped_column(Integer)
    transaction_date: Mapped[date] = mapped_column(Date, index=True)
    amount: Mapped[str] = mapped_column(String(40))
    currency: Mapped[str] = mapped_column(String(3))
    description: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(20))
    document_sha256: Mapped[str] = mapped_column(String(64), default="", index=True)
    document: Mapped[str] = mapped_column(String(1024), default="")
    booking: Mapped[str] = mapped_column(String(20), default="")  # the document's card: bill | paid
    invoice_number: Mapped[str] = mapped_column(String(200), default="")
    allocated: Mapped[str] = mapped_column(String(40), default="")
    open_amount: Mapped[str] = mapped_column(String(40), default="")
    score: Mapped[float] = mapped_column(Float, default=0.0)
    reason: Mapped[str] = mapped_column(String(1000), default="")
    reconciled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


@dataclass(frozen=True)
class MatchRow:
    statement_sha256: str
    line_index: int
    transaction_date: date
    amount: Decimal
    currency: str
    description: str
    status: str  # matched | partial | suggested | unmatched
    document_sha256: str = ""
    document: str = ""
    booking: str = ""
    invoice_number: str = ""
    allocated: Decimal | None = None
    open_amount: Decimal | None = None
    score: float = 0.0
    reason: str = ""


def ensure_table(store: Store) -> None:
    Base.metadata.create_all(store.engine, tables=[Base.metadata.tables[MatchRowTable.__tablename__]])


def match_rows(rec: Reconciliation, bookings: dict[str, str]) -> list[MatchRow]:
    """The rows of a reconciliation; `bookings`: document type -> "bill" | "paid"."""
    rows = []
    for m in rec.lines:
        ln = m.line
        head = (m.statement.doc.result.sha256, ln.index, ln.date, ln.amount, m.statement.currency, ln.description)
        if not m.allocations:
            rows.append(MatchRow(*head, m.status, score=m.score, reason=m.reason))
        for a in m.allocations:
            r = a.item.doc.result
            rows.append(
                MatchRow(*head, m.status, r.sha256, r.source_name, bookings.get(r.doc_type, ""), a.item.number,
                         a.amount, a.open_after, m.score, m.reason)
            )  # fmt: skip
    return rows


def record(store: Store, rows: list[MatchRow], through: date | None, now: datetime) -> None:
    """Replace the stored rows of every line dated up to `through` (all lines when None) with `rows`."""
    ensure_table(store)
    with store.session() as s:
        gone = delete(MatchRowTable)
        if through is not None:
            gone = gone.where(MatchRowTable.transaction_date <= through)
        s.execute(gone)
        s.add_all(
            MatchRowTable(
                statement_sha256=r.statement_sha256, line_index=r.line_index, transaction_date=r.transaction_date,
                amount=f"{r.amount:f}", currency=r.currency, description=r.description[:500], status=r.status,
                document_sha256=r.document_sha256, document=r.document, booking=r.booking,
                invoice_number=r.invoice_number[:200], allocated="" if r.allocated is None else f"{r.allocated:f}",
                open_amount="" if r.open_amount is None else f"{r.open_amount:f}", score=r.score,
                reason=r.reason[:1000], reconciled_at=now,
            )
            for r in rows
        )  # fmt: skip


def stored_matches(store: Store) -> list[MatchRow]:
    """Every stored row, by transaction date, statement and line."""
    ensure_table(store)
    with store.session() as s:
        q = select(MatchRowTable).order_by(
            MatchRowTable.transaction_date, MatchRowTable.statement_sha256, MatchRowTable.line_index, MatchRowTable.id
        )
        return [
            MatchRow(
                r.statement_sha256, r.line_index, r.transaction_date, Decimal(r.amount), r.currency, r.description,
                r.status, r.document_sha256, r.document, r.booking, r.invoice_number,
                Decimal(r.allocated) if r.allocated else None, Decimal(r.open_amount) if r.open_amount else None,
                r.score, r.reason,
            )
            for r in s.scalars(q)
        ]  # fmt: skip


def paid_documents(rows: list[MatchRow]) -> dict[str, MatchRow]:
    """Document sha256 -> the matched row that left nothing of it open (when it was paid, by what)."""
    return {
        r.document_sha256: r
        for r in rows
        if r.document_sha256 and r.status in ("matched", "partial") and r.open_amount == 0
    }
