"""Findings that need more than one document (a duplicate invoice, an overlapping statement): kept
on each stored document's issues and brought up to date when the store changes."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime

from ledgerlens.pipeline.books.store import DocumentRow, Store, StoredDocument
from ledgerlens.pipeline.types import Issue, Status, status_of
from sqlalchemy import select


def update_findings(
    store: Store, docs: list[StoredDocument], codes: Collection[str], wanted: dict[int, list[Issue]]
) -> int:
    """Replace, on each of `docs`, its issues with one of `codes` by `wanted[doc.id]`; recompute the
    status; write only the rows that change. Failed documents are left as they are. Returns how
    many rows changed."""
    changed = 0
    now = datetime.now(UTC)
    with store.session() as s:
        for doc in docs:
            r = doc.result
            if r.status is Status.FAILED:
                continue
            issues = [i for i in r.issues if i.code not in codes] + wanted.get(doc.id, [])
            if [i.to_dict() for i in issues] == [i.to_dict() for i in r.issues]:
                continue
            row = s.scalar(select(DocumentRow).where(DocumentRow.id == doc.id))
            if row is None:
                continue
            row.issues = [i.to_dict() for i in issues]
            row.status = str(status_of(issues))
            row.updated_at = now
            changed += 1
    return changed
