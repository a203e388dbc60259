"""The result store: SQLAlchemy over SQLite by default, any SQLAlchemy URL (PostgreSQL) unchanged.

One row per document, keyed by the sha256 of its bytes: processing the same bytes again updates
that row, it never adds a second one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ledgerlens.pipeline.errors import ConfigError
from ledgerlens.pipeline.types import DocumentResult, Issue, Status
from sqlalchemy import JSON, DateTime, Integer, String, create_engine, event, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column


class Base(DeclarativeBase):
    pass


class DocumentRow(Base):
    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    source_name: Mapped[str] = mapped_column(String(1024))
    source_path: Mapped[str | None] = mapped_column(String(4096), nullable=True)
    media_type: Mapped[str] = mapped_column(String(100))
    page_count: Mapped[int] = mapped_column(Integer, default=0)
    doc_type: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    issues: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    confidence: Mapped[dict[str, float]] = mapped_column(JSON)
    provenance: Mapped[dict[str, Any]] = mapped_column(JSON)
    timings: Mapped[dict[str, float]] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


@dataclass(frozen=True)
class StoredDocument:
    id: int
    result: DocumentResult
    attempts: int
    created_at: datetime
    updated_at: datetime


def _row_to_stored(row: DocumentRow) -> StoredDocument:
    result = DocumentResult(
        sha256=row.sha256,
        source_name=row.source_name,
        media_type=row.media_type,
        page_count=row.page_count,
        doc_type=row.doc_type,
        status=Status(row.status),
        data=row.data,
        issues=[Issue.from_dict(i) for i in row.issues],
        confidence=row.confidence,
        provenance=row.provenance,
        timings=row.timings,
        source_path=row.source_path,
    )
    return StoredDocument(row.id, result, row.attempts, row.created_at, row.updated_at)


def _fill(row: DocumentRow, r: DocumentResult, now: datetime) -> None:
    # JSON columns get plain JSON (Decimal and dates are already strings in `data`).
    row.source_name = r.source_name
    row.source_path = r.source_path
    row.media_type = r.media_type
    row.page_count = r.page_count
    row.doc_type = r.doc_type
    row.status = str(r.status)
    row.data = json.loads(json.dumps(r.data))
    row.issues = [i.to_dict() for i in r.issues]
    row.confidence = dict(r.confidence)
    row.provenance = json.loads(json.dumps(r.provenance, default=str))
    row.timings = {k: round(v, 4) for k, v in r.timings.items()}
    row.updated_at = now


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL: readers (export, show) never block the writer; FULL sync: a committed row survives a crash.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


class Store:
    def __init__(self, url: str) -> None:
        try:
            self.engine: Engine = create_engine(url, future=True)
        except Exception as e:  # bad URL or missing driver: the user's configuration
            raise ConfigError(f"cannot open store {url!r}: {e}") from e
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        try:
            Base.metadata.create_all(self.engine)
        except SQLAlchemyError as e:  # unreachable server, missing folder, no permission
            raise ConfigError(f"cannot open store {self.engine.url!r}: {e.__class__.__name__}: {e}") from e

    @classmethod
    def for_workspace(cls, root: Path, url: str = "") -> Store:
        return cls(url or f"sqlite:///{(root / 'ledgerlens.db').resolve()}")

    @contextmanager
    def session(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as s, s.begin():
            yield s

    def save(
        self, result: DocumentResult, *, tries: int = 1, on_save: Callable[[Session, int], object] | None = None
    ) -> int:
        """Insert or update the row of this document's bytes; returns its id.

        `tries` is added to the row's attempts. `on_save(session, id)` runs in the same transaction,
        so a caller's own bookkeeping (the intake journal) commits together with the result.
        """
        now = datetime.now(UTC)
        for _ in range(2):  # a concurrent writer may insert the same sha256 between select and insert
            try:
                with self.session() as s:
                    # FOR UPDATE: a concurrent writer of the same bytes waits for this one (PostgreSQL;
                    # SQLite has one writer anyway), so no update of `attempts` is lost.
                    row = s.scalar(select(DocumentRow).where(DocumentRow.sha256 == result.sha256).with_for_update())
                    if row is None:
                        row = DocumentRow(sha256=result.sha256, created_at=now, attempts=0)
                        s.add(row)
                    row.attempts = (row.attempts or 0) + tries
                    _fill(row, result, now)
                    s.flush()
                    if on_save is not None:
                        on_save(s, row.id)
                    return row.id
            except IntegrityError:
                continue
        raise RuntimeError(f"could not store document {result.sha256}")

    def get(self, key: str) -> StoredDocument | None:
        """By id, sha256 (or a unique prefix of at least 8 hex digits) or source file name."""
        with self.session() as s:
            if key.isdigit():
                row = s.get(DocumentRow, int(key))
                if row is not None:
                    return _row_to_stored(row)
            rows = list(s.scalars(select(DocumentRow).where(DocumentRow.source_name == Path(key).name)))
            if not rows and len(key) >= 8 and all(c in "0123456789abcdef" for c in key.lower()):
                rows = list(s.scalars(select(DocumentRow).where(DocumentRow.sha256.startswith(key.lower()))))
            if len(rows) > 1:
                raise ConfigError(f"{key!r} matches {len(rows)} documents; use an id or a sha256")
            return _row_to_stored(rows[0]) if rows else None

    def get_by_sha(self, sha256: str) -> StoredDocument | None:
        with self.session() as s:
            row = s.scalar(select(DocumentRow).where(DocumentRow.sha256 == sha256))
            return _row_to_stored(row) if row else None

    def all(self, doc_type: str | None = None) -> list[StoredDocument]:
        """Every document in a stable order (id), optionally of one type."""
        with self.session() as s:
            q = select(DocumentRow).order_by(DocumentRow.id)
            if doc_type is not None:
                q = q.where(DocumentRow.doc_type == doc_type)
            return [_row_to_stored(r) for r in s.scalars(q)]

    def close(self) -> None:
        self.engine.dispose()
