"""The intake journal: one row per file that entered intake/, and where it is in its life.

    claiming -> queued -> finishing -> done | failed | duplicate
    (a special file goes from intake straight to finishing -> failed)

Every state change is committed before the file moves, and each row names the file's current
path and, while a move is pending, its target. After a crash at any point the journal says
what to do: `claiming` rows whose rename happened become `queued`, the others are dropped (the
file is still in intake/); `queued` rows are run again; `finishing` rows only need their move.
The table lives in the result store's database (same engine, same transactions).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from ledgerlens.pipeline.books.store import Base, Store
from sqlalchemy import DateTime, Integer, String, delete, func, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column

CLAIMING, QUEUED, FINISHING = "claiming", "queued", "finishing"
DONE, FAILED, DUPLICATE = "done", "failed", "duplicate"
GONE, RETRIED = "gone", "retried"  # removed by hand; sent back to intake by `ledgerlens retry`
OPEN = (CLAIMING, QUEUED, FINISHING)
OUTCOMES = (DONE, FAILED, DUPLICATE)


class IntakeRow(Base):
    __tablename__ = "intake_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(1024))  # the file name as dropped
    folder: Mapped[str] = mapped_column(String(4096), default="")  # sub-folder of intake/ ("" at the top)
    kind: Mapped[str] = mapped_column(String(20), default="file")  # file, symlink, fifo, socket, device
    sha256: Mapped[str | None] = mapped_column(String(64), index=True, nullable=True)
    state: Mapped[str] = mapped_column(String(20), index=True)
    path: Mapped[str] = mapped_column(String(4096))  # where the file is now, relative to the workspace
    target: Mapped[str | None] = mapped_column(String(4096), nullable=True)  # where it is being moved
    outcome: Mapped[str | None] = mapped_column(String(20), nullable=True)  # done, failed or duplicate
    tries: Mapped[int] = mapped_column(Integer, default=0)
    stage: Mapped[str | None] = mapped_column(String(64), nullable=True)
    code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reason: Mapped[str | None] = mapped_column(String(4096), nullable=True)
    hint: Mapped[str | None] = mapped_column(String(4096), nullable=True)
    document_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # documents.id of the result
    duplicate_of: Mapped[int | None] = mapped_column(Integer, nullable=True)  # documents.id already booked
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


def _now() -> datetime:
    return datetime.now(UTC)


class Journal:
    def __init__(self, store: Store) -> None:
        self.store = store
        Base.metadata.create_all(store.engine, tables=[Base.metadata.tables[IntakeRow.__tablename__]])

    def begin(self, **fields: Any) -> IntakeRow:
        """A new row (state `claiming` unless given): committed before the file is touched."""
        now = _now()
        fields.setdefault("state", CLAIMING)
        with self.store.session() as s:
            row = IntakeRow(created_at=now, updated_at=now, tries=0, **fields)
            s.add(row)
            s.flush()
            return row

    def get(self, row_id: int) -> IntakeRow:
        with self.store.session() as s:
            row = s.get(IntakeRow, row_id)
            if row is None:
                raise KeyError(f"no intake row {row_id}")
            return row

    def _update(self, row_id: int, s: Session | None = None, **fields: Any) -> IntakeRow:
        if s is None:
            with self.store.session() as own:
                return self._update(row_id, own, **fields)
        row = s.get(IntakeRow, row_id)
        if row is None:
            raise KeyError(f"no intake row {row_id}")
        for key, value in fields.items():
            setattr(row, key, value)
        row.updated_at = _now()
        s.flush()
        return row

    def claimed(self, row_id: int, sha256: str) -> IntakeRow:
        """The rename into processing/ happened and the bytes are hashed: ready to run."""
        row = self.get(row_id)
        return self._update(row_id, state=QUEUED, path=row.target or row.path, target=None, sha256=sha256)

    def drop(self, row_id: int) -> None:
        """A claim whose rename never happened: the file is still in intake/ and is seen again."""
        with self.store.session() as s:
            s.execute(delete(IntakeRow).where(IntakeRow.id == row_id, IntakeRow.state == CLAIMING))

    def start_try(self, row_id: int) -> IntakeRow:
        with self.store.session() as s:
            row = s.get(IntakeRow, row_id)
            if row is None:
                raise KeyError(f"no intake row {row_id}")
            if row.state == QUEUED:
                row.tries += 1
                row.updated_at = _now()
            return row

    def decide(self, row_id: int, outcome: str, target: str, s: Session | None = None, **fields: Any) -> IntakeRow:
        """Where the file goes (and why), committed before it moves; `s` joins another transaction."""
        assert outcome in OUTCOMES, outcome
        return self._update(row_id, s, state=FINISHING, outcome=outcome, target=target, **fields)

    def retarget(self, row_id: int, target: str) -> IntakeRow:
        return self._update(row_id, target=target)

    def finished(self, row_id: int) -> IntakeRow:
        with self.store.session() as s:
            row = s.get(IntakeRow, row_id)
            if row is None:
                raise KeyError(f"no intake row {row_id}")
            return self._update(row_id, s, state=row.outcome, path=row.target or row.path, target=None)

    def gone(self, row_id: int, reason: str) -> IntakeRow:
        return self._update(row_id, state=GONE, reason=reason, target=None)

    def retried(self, row_id: int, path: str) -> IntakeRow:
        """Sent back to intake/ (now at `path`) by `ledgerlens retry`; a new row follows its next claim."""
        return self._update(row_id, state=RETRIED, path=path, target=None)

    # ------------------------------------------------------------------ queries

    def rows(self, states: Iterable[str] | None = None, *, newest_first: bool = False) -> list[IntakeRow]:
        with self.store.session() as s:
            q = select(IntakeRow).order_by(IntakeRow.id.desc() if newest_first else IntakeRow.id)
            if states is not None:
                q = q.where(IntakeRow.state.in_(list(states)))
            return list(s.scalars(q))

    def paths_in_use(self, prefix: str = "") -> set[str]:
        """Paths and targets of rows still in flight: no new file may take these names. With a
        `prefix`, only those that start with it (the names a new file could take), so that
        finding a free name costs the same with 10 or 10,000 documents in flight."""
        with self.store.session() as s:
            q = select(IntakeRow.path, IntakeRow.target).where(IntakeRow.state.in_(OPEN))
            if prefix:
                q = q.where(
                    or_(
                        IntakeRow.path.startswith(prefix, autoescape=True),
                        IntakeRow.target.startswith(prefix, autoescape=True),
                    )
                )
            return {p for row in s.execute(q) for p in row if p and p.startswith(prefix)}

    def counts(self) -> dict[str, int]:
        with self.store.session() as s:
            return dict(s.execute(select(IntakeRow.state, func.count()).group_by(IntakeRow.state)).tuples().all())

    def settled_since(self, since: datetime) -> list[IntakeRow]:
        """Rows that reached done, failed or duplicate at or after `since`, oldest first."""
        with self.store.session() as s:
            q = select(IntakeRow).where(IntakeRow.state.in_(OUTCOMES), IntakeRow.updated_at >= since)
            return list(s.scalars(q.order_by(IntakeRow.updated_at, IntakeRow.id)))

    def failures(self, limit: int = 10) -> list[IntakeRow]:
        """The most recent failures, newest first."""
        with self.store.session() as s:
            q = (
                select(IntakeRow)
                .where(IntakeRow.state == FAILED)
                .order_by(IntakeRow.updated_at.desc(), IntakeRow.id.desc())
            )
            return list(s.scalars(q.limit(limit)))

    def last_in_path(self, path: str) -> IntakeRow | None:
        """The newest row whose file is (or was put) at `path`."""
        with self.store.session() as s:
            q = select(IntakeRow).where(IntakeRow.path == path).order_by(IntakeRow.id.desc()).limit(1)
            return s.scalar(q)
