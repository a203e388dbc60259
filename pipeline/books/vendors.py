"""The vendor memory in the store: what corrections taught about each vendor, per workspace.

Two tables beside `documents`, created on first use:

- `vendor_memory`: one row per vendor and document type of a workspace: its name as a reviewer
  wrote it, its own values (address, VAT id, IBAN ...), where it prints each field
  (`Placement`s, engines/memory.py) and how many corrections taught it;
- `vendor_memory_keys`: what tells that vendor's documents: identifiers printed on them (VAT
  id, IBAN, registration and phone numbers) and its name as printed (OCR variants included).

Every row carries its workspace (the workspace folder, resolved), and every query is limited
to it: two workspaces sharing one PostgreSQL database never see each other's vendors.

`StoreVendorMemory` is the engines' `VendorMemory` (read side: `recall`) plus `teach`, `vendors`
and `forget`. Recognising a vendor: a page line close to a known name, else identifiers it
shares with exactly one known vendor (two of them, or one VAT id / IBAN). An identifier that
several vendors print (the buyer's own VAT id on every invoice) tells nothing and is skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ledgerlens.pipeline.books.store import Base, Store
from ledgerlens.pipeline.engines.memory import (
    NameIndex,
    Placement,
    VendorClues,
    VendorProfile,
    merge_placements,
    name_key,
)
from ledgerlens.pipeline.engines.ocr.finder.memory import Lesson
from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, delete, func, select
from sqlalchemy.orm import Mapped, mapped_column

STRONG_IDS = ("vat:", "iban:")


class VendorRow(Base):
    __tablename__ = "vendor_memory"
    __table_args__ = (Index("ix_vendor_memory_ws_type", "workspace", "doc_type"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    workspace: Mapped[str] = mapped_column(String(1024))
    doc_type: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(500))
    name_key: Mapped[str] = mapped_column(String(500))
    values: Mapped[dict[str, Any]] = mapped_column(JSON)
    placements: Mapped[dict[str, Any]] = mapped_column(JSON)
    corrections: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class VendorKeyRow(Base):
    __tablename__ = "vendor_memory_keys"
    __table_args__ = (Index("ix_vendor_memory_keys_lookup", "workspace", "doc_type", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    workspace: Mapped[str] = mapped_column(String(1024))
    doc_type: Mapped[str] = mapped_column(String(64))
    vendor_id: Mapped[int] = mapped_column(ForeignKey("vendor_memory.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # "id" | "name"
    key: Mapped[str] = mapped_column(String(500))


def workspace_key(root: Path) -> str:
    """The workspace a memory belongs to: its folder, resolved."""
    return str(root.expanduser().resolve())


@dataclass(frozen=True)
class VendorSummary:
    id: int
    name: str
    doc_type: str
    corrections: int
    fields: list[str]
    keys: int
    updated_at: datetime


def _profile(row: VendorRow) -> VendorProfile:
    places = {f: tuple(Placement.from_dict(p) for p in ps) for f, ps in (row.placements or {}).items()}
    return VendorProfile(row.id, row.name, row.doc_type, row.corrections, dict(row.values or {}), places)


class StoreVendorMemory:
    """A workspace's vendor memory, kept in its store."""

    def __init__(self, store: Store, workspace: str) -> None:
        self.store = store
        self.workspace = workspace
        tables = [Base.metadata.tables[VendorRow.__tablename__], Base.metadata.tables[VendorKeyRow.__tablename__]]
        Base.metadata.create_all(store.engine, tables=tables)
        self._names: dict[str, tuple[Any, NameIndex]] = {}  # doc_type -> (generation, index)

    # -------------------------------------------------------------- recall (the engines' side)

    def recall(self, doc_type: str, clues: VendorClues) -> VendorProfile | None:
        with self.store.session() as s:
            vendor = self._recognise(s, doc_type, clues)
            row = s.get(VendorRow, vendor) if vendor is not None else None
            return _profile(row) if row is not None and row.workspace == self.workspace else None

    def _recognise(self, s: Any, doc_type: str, clues: VendorClues) -> int | None:
        generation = s.execute(
            select(func.count(VendorRow.id), func.max(VendorRow.updated_at)).where(
                VendorRow.workspace == self.workspace, VendorRow.doc_type == doc_type
            )
        ).one()
        if not generation[0]:
            return None
        by_name = self._name_index(s, doc_type, tuple(generation)).best(clues.names)
        by_ids = self._id_votes(s, doc_type, clues.ids)
        if by_name is not None:
            vendor = by_name[0]
            if by_ids and vendor not in by_ids and max(by_ids.values()) >= 2:
                return max(by_ids, key=lambda v: by_ids[v])  # two identifiers outweigh a look-alike name
            return vendor
        if by_ids:
            vendor = max(by_ids, key=lambda v: by_ids[v])
            return vendor if by_ids[vendor] >= 2 else None
        return None

    def _id_votes(self, s: Any, doc_type: str, ids: tuple[str, ...]) -> dict[int, float]:
        """Vendor -> weight of the identifiers it alone shares with the page (VAT id, IBAN count 2)."""
        if not ids:
            return {}
        rows = s.execute(
            select(VendorKeyRow.key, VendorKeyRow.vendor_id).where(
                VendorKeyRow.workspace == self.workspace,
                VendorKeyRow.doc_type == doc_type,
                VendorKeyRow.kind == "id",
                VendorKeyRow.key.in_(ids),
            )
        ).all()
        owners: dict[str, set[int]] = {}
        for key, vendor in rows:
            owners.setdefault(key, set()).add(vendor)
        votes: dict[int, float] = {}
        for key, vendors in owners.items():
            if len(vendors) == 1:
                (vendor,) = vendors
                votes[vendor] = votes.get(vendor, 0.0) + (2.0 if key.startswith(STRONG_IDS) else 1.0)
        return votes

    def _name_index(self, s: Any, doc_type: str, generation: tuple[Any, ...]) -> NameIndex:
        cached = self._names.get(doc_type)
        if cached is not None and cached[0] == generation:
            return cached[1]
        rows = s.execute(
            select(VendorKeyRow.key, VendorKeyRow.vendor_id).where(
                VendorKeyRow.workspace == self.workspace, VendorKeyRow.doc_type == doc_type, VendorKeyRow.kind == "name"
            )
        ).all()
        index = NameIndex((key, vendor) for key, vendor in rows)
        self._names[doc_type] = (generation, index)
        return index

    # -------------------------------------------------------------- teach, list, forget

    def teach(self, lesson: Lesson, now: datetime | None = None) -> VendorProfile:
        """Add what one corrected document taught: a new vendor, or more about a known one."""
        now = now or datetime.now(UTC)
        with self.store.session() as s:
            row = self._same_vendor(s, lesson)
            if row is None:
                row = VendorRow(workspace=self.workspace, doc_type=lesson.doc_type, name=lesson.name,
                                name_key=name_key(lesson.name), values={}, placements={}, corrections=0,
                                created_at=now)  # fmt: skip
                s.add(row)
            if lesson.name:
                row.name, row.name_key = lesson.name, name_key(lesson.name)
            row.values = {**(row.values or {}), **lesson.values}
            old = {f: tuple(Placement.from_dict(p) for p in ps) for f, ps in (row.placements or {}).items()}
            missed = lesson.missed if lesson.judged == row.id else {}
            for fld in {*lesson.placements, *missed}:
                new, wrong = lesson.placements.get(fld, []), missed.get(fld, frozenset())
                old[fld] = merge_placements(old.get(fld, ()), new, wrong)
            row.placements = {f: [p.to_dict() for p in ps] for f, ps in old.items()}
            row.corrections = (row.corrections or 0) + 1
            row.updated_at = now
            s.flush()
            self._add_keys(s, row, lesson.clues)
            return _profile(row)

    def _same_vendor(self, s: Any, lesson: Lesson) -> VendorRow | None:
        mine = (VendorRow.workspace == self.workspace, VendorRow.doc_type == lesson.doc_type)
        if lesson.name:
            row = s.scalar(select(VendorRow).where(*mine, VendorRow.name_key == name_key(lesson.name)))
            if row is not None:
                return row
        vendor = self._recognise(s, lesson.doc_type, lesson.clues)
        return s.get(VendorRow, vendor) if vendor is not None else None

    def _add_keys(self, s: Any, row: VendorRow, clues: VendorClues) -> None:
        have = set(s.scalars(select(VendorKeyRow.key).where(VendorKeyRow.vendor_id == row.id)))
        wanted = [("id", k) for k in clues.ids] + [("name", name_key(n)) for n in clues.names]
        for kind, key in dict.fromkeys(wanted):
            if key and key not in have and len(key) <= 500:
                s.add(VendorKeyRow(workspace=self.workspace, doc_type=row.doc_type, vendor_id=row.id, kind=kind,
                                   key=key))  # fmt: skip
                have.add(key)

    def vendors(self) -> list[VendorSummary]:
        with self.store.session() as s:
            rows = s.scalars(select(VendorRow).where(VendorRow.workspace == self.workspace).order_by(VendorRow.name))
            out = []
            for r in rows:
                keys = s.scalar(select(func.count(VendorKeyRow.id)).where(VendorKeyRow.vendor_id == r.id)) or 0
                fields = sorted({*(r.placements or {}), *(r.values or {})})
                out.append(VendorSummary(r.id, r.name, r.doc_type, r.corrections, fields, keys, r.updated_at))
            return out

    def forget(self, name: str) -> list[str]:
        """Forget the vendor(s) of this name (or id); returns the names forgotten."""
        with self.store.session() as s:
            mine = VendorRow.workspace == self.workspace
            if name.isdigit():
                rows = list(s.scalars(select(VendorRow).where(mine, VendorRow.id == int(name))))
            else:
                rows = list(s.scalars(select(VendorRow).where(mine, VendorRow.name_key == name_key(name))))
            ids = [r.id for r in rows]
            if ids:
                s.execute(delete(VendorKeyRow).where(VendorKeyRow.vendor_id.in_(ids)))
                s.execute(delete(VendorRow).where(VendorRow.id.in_(ids)))
            self._names.clear()
            return [r.name for r in rows]
