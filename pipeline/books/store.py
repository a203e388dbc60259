"""The result store: SQLAlchemy over SQLite by default, any SQLAlchemy URL (PostgreSQL) unchanged.

One row per document, keyed by the sha256 of its bytes: processing the same bytes again updates
that row, it never adds a second one.

Besides the result, each row keeps what the review queue sorts and filters on, derived from the
result whenever the row is written (`_derive`, a mapper event, so no writer can forget it):
`queue_rank` (needs_review, failed, ok), `vendor_key`, `doc_date`, and one `document_issues`
row per issue code. `version` counts the writes of a document's result (processing, review):
a reviewer's save names the version it started from and is refused when another came between.
A store written before these columns existed gets them on open (`_migrate`: add the columns and
indexes, then fill them in), on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ledgerlens.pipeline.errors import ConfigError
from ledgerlens.pipeline.normalize import vendor_key
from ledgerlens.pipeline.types import DocumentResult, Issue, Status
from sqlalchemy import (
    JSON,
    Connection,
    DateTime,
    Index,
    Integer,
    String,
    create_engine,
    delete,
    event,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Mapper, Session, mapped_column
from sqlalchemy.schema import CreateIndex


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
    # For the review queue and its optimistic lock (see the module's docstring).
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="0")
    queue_rank: Mapped[int | None] = mapped_column(Integer, nullable=True)
    vendor_key: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    doc_date: Mapped[str | None] = mapped_column(String(10), nullable=True, index=True)


# The queue's order (what to look at first, newest first), also within one type; the directions
# are the query's, so that SQLite and PostgreSQL read the first page straight off the index.
Index("ix_documents_queue", DocumentRow.queue_rank, DocumentRow.updated_at.desc(), DocumentRow.id.desc())
Index(
    "ix_documents_type_queue",
    DocumentRow.doc_type,
    DocumentRow.queue_rank,
    DocumentRow.updated_at.desc(),
    DocumentRow.id.desc(),
)


class DocumentIssue(Base):
    """One row per (document, issue code): the queue's filter by issue code uses its index."""

    __tablename__ = "document_issues"

    document_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), primary_key=True)

    __table_args__ = (Index("ix_document_issues_code", "code", "document_id"),)


# What to look at first: documents waiting for a person, then those that failed, then the rest.
QUEUE_RANK = {"needs_review": 0, "failed": 1, "ok": 2}
_DATE_KEYS = ("date", "statement_date", "period_end", "period_start")


def _derive(row: DocumentRow) -> None:
    row.queue_rank = QUEUE_RANK.get(row.status, len(QUEUE_RANK))
    data = row.data if isinstance(row.data, dict) else {}
    vendor = data.get("vendor_name") or data.get("bank_name")
    row.vendor_key = vendor_key(vendor)[:200] or None if isinstance(vendor, str) else None
    dates = [data.get(k) for k in _DATE_KEYS]
    row.doc_date = next((d for d in dates if isinstance(d, str) and len(d) == 10 and d[4] == "-"), None)


def _write_issue_codes(connection: Connection, row: DocumentRow) -> None:
    codes = sorted({str(i.get("code"))[:64] for i in row.issues or [] if isinstance(i, dict) and i.get("code")})
    connection.execute(delete(DocumentIssue).where(DocumentIssue.document_id == row.id))
    if codes:
        connection.execute(insert(DocumentIssue), [{"document_id": row.id, "code": c} for c in codes])


@event.listens_for(DocumentRow, "before_insert")
@event.listens_for(DocumentRow, "before_update")
def _before_write(_mapper: Mapper[Any], _connection: Connection, row: DocumentRow) -> None:
    _derive(row)


@event.listens_for(DocumentRow, "after_insert")
@event.listens_for(DocumentRow, "after_update")
def _after_write(_mapper: Mapper[Any], connection: Connection, row: DocumentRow) -> None:
    _write_issue_codes(connection, row)


@dataclass(frozen=True)
class StoredDocument:
    id: int
    result: DocumentResult
    attempts: int
    created_at: datetime
    updated_at: datetime
    version: int = 0


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
    return StoredDocument(row.id, result, row.attempts, row.created_at, row.updated_at, row.version or 0)


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


_NEW_COLUMNS = {  # added to a store written before them (DDL shared by SQLite and PostgreSQL)
    "version": "INTEGER NOT NULL DEFAULT 0",
    "queue_rank": "INTEGER",
    "vendor_key": "VARCHAR(200)",
    "doc_date": "VARCHAR(10)",
}
_BACKFILL_BATCH = 500


def _migrate(engine: Engine) -> None:
    """Bring a store written by an earlier version up to this schema; safe to run from several
    processes at once (each step tolerates another process having done it first)."""
    have = {c["name"] for c in inspect(engine).get_columns(DocumentRow.__tablename__)}
    for name, ddl in _NEW_COLUMNS.items():
        if name in have:
            continue
        exists = "IF NOT EXISTS " if engine.dialect.name == "postgresql" else ""
        try:
            with engine.begin() as conn:
                conn.execute(text(f"ALTER TABLE documents ADD COLUMN {exists}{name} {ddl}"))
        except SQLAlchemyError:  # SQLite: another process added it between our look and our ALTER
            if name not in {c["name"] for c in inspect(engine).get_columns(DocumentRow.__tablename__)}:
                raise
    with engine.begin() as conn:
        for index in Base.metadata.tables[DocumentRow.__tablename__].indexes:
            conn.execute(CreateIndex(index, if_not_exists=True))
    _backfill(engine)


def _backfill(engine: Engine) -> None:
    """Derive the queue columns of rows written before they existed (`queue_rank` still NULL)."""
    while True:
        with Session(engine) as s, s.begin():
            rows = list(s.scalars(select(DocumentRow).where(DocumentRow.queue_rank.is_(None)).limit(_BACKFILL_BATCH)))
            for row in rows:
                _derive(row)  # a change to the row: the flush's mapper events write its issue codes
        if len(rows) < _BACKFILL_BATCH:
            return


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
            _migrate(self.engine)
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
                    row.version = (row.version or 0) + 1
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

    def get_by_id(self, doc_id: int) -> StoredDocument | None:
        """By row id only (never a file name or a sha256 prefix that happens to be digits)."""
        with self.session() as s:
            row = s.get(DocumentRow, doc_id)
            return _row_to_stored(row) if row is not None else None

    def get_by_sha(self, sha256: str) -> StoredDocument | None:
        with self.session() as s:
            row = s.scalar(select(DocumentRow).where(DocumentRow.sha256 == sha256))
            return _row_to_stored(row) if row else None

    def all(self, doc_type: str | None = None, vendor_keys: Collection[str] | None = None) -> list[StoredDocument]:
        """Every document in a stable order (id), optionally of one type, or of some vendors
        (`normalize.vendor_key` of their vendor's name: an indexed column)."""
        with self.session() as s:
            q = select(DocumentRow).order_by(DocumentRow.id)
            if doc_type is not None:
                q = q.where(DocumentRow.doc_type == doc_type)
            if vendor_keys is not None:
                q = q.where(DocumentRow.vendor_key.in_(sorted(vendor_keys)))
            return [_row_to_stored(r) for r in s.scalars(q)]

    def close(self) -> None:
        self.engine.dispose()
