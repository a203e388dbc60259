"""What happened to documents after processing: reviewers' corrections and accounting exports.

Two tables beside `documents`, created on first use (`ensure_tables`), keyed by the document's
sha256 so they survive a re-processing of the same bytes:

- `audit_trail`: one row per field a reviewer corrected or accepted: old and new value, who,
  when, from which workbook row. Rows are only ever added.
- `export_marks`: which document went out in which accounting export (target), and when; what
  `ledgerlens export --since-last` leaves out next time.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from ledgerlens.pipeline.books.store import Base, Store
from sqlalchemy import JSON, DateTime, Integer, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column


class AuditRow(Base):
    __tablename__ = "audit_trail"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    field: Mapped[str] = mapped_column(String(300))
    action: Mapped[str] = mapped_column(String(20))  # corrected | accepted
    old_value: Mapped[Any] = mapped_column(JSON, nullable=True)
    new_value: Mapped[Any] = mapped_column(JSON, nullable=True)
    user: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    source: Mapped[str] = mapped_column(String(4096))  # workbook and row the change came from


class ExportMark(Base):
    __tablename__ = "export_marks"
    __table_args__ = (UniqueConstraint("sha256", "target"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str] = mapped_column(String(20))
    exported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    file: Mapped[str] = mapped_column(String(4096))


def ensure_tables(store: Store) -> None:
    """Create this module's tables if the store lacks them (idempotent; other tables untouched)."""
    tables = [Base.metadata.tables[AuditRow.__tablename__], Base.metadata.tables[ExportMark.__tablename__]]
    Base.metadata.create_all(store.engine, tables=tables)


def record_changes(store: Store, rows: Iterable[AuditRow]) -> None:
    ensure_tables(store)
    with store.session() as s:
        s.add_all(list(rows))


def audit_trail(store: Store, sha256: str | None = None) -> list[AuditRow]:
    ensure_tables(store)
    with store.session() as s:
        q = select(AuditRow).order_by(AuditRow.id)
        if sha256 is not None:
            q = q.where(AuditRow.sha256 == sha256)
        return list(s.scalars(q))


def exported(store: Store, target: str) -> set[str]:
    """sha256 of every document already exported to `target`."""
    ensure_tables(store)
    with store.session() as s:
        return set(s.scalars(select(ExportMark.sha256).where(ExportMark.target == target)))


def mark_exported(store: Store, target: str, shas: Iterable[str], when: datetime, file: str) -> None:
    ensure_tables(store)
    done = exported(store, target)
    with store.session() as s:
        s.add_all(ExportMark(sha256=sha, target=target, exported_at=when, file=file) for sha in shas if sha not in done)
