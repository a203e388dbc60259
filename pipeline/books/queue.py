"""The review queue: which stored documents a person should look at, in what order, a page at a time.

Documents waiting for a person (`needs_review`) come first, then those that `failed`, then the
rest (`ok`), each newest first. Filters: document type, status, vendor (matched the way
duplicates are: `vendor_key`), issue code and period (the document's date, `YYYY` or `YYYY-MM`).
Every query reads the store's derived, indexed columns (`store.py`), never the JSON of all
documents, so a page costs the same with ten documents or ten thousand.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlencode

from ledgerlens.pipeline.books.store import QUEUE_RANK, DocumentIssue, DocumentRow, Store
from ledgerlens.pipeline.errors import ConfigError
from ledgerlens.pipeline.normalize import vendor_key
from ledgerlens.pipeline.types import Status
from sqlalchemy import Select, and_, func, or_, select

_Query = TypeVar("_Query", bound="Select[*tuple[Any, ...]]")  # a select of any columns

PER_PAGE = 50
_PERIOD = re.compile(r"(\d{4})(?:-(0[1-9]|1[0-2]))?")
_NAME = re.compile(r"[a-z0-9_]{1,64}")
ORDER = (DocumentRow.queue_rank, DocumentRow.updated_at.desc(), DocumentRow.id.desc())
_STATUS_OF_RANK = {rank: status for status, rank in QUEUE_RANK.items()}


@dataclass(frozen=True)
class QueueFilter:
    doc_type: str = ""
    status: str = ""
    vendor: str = ""  # as a person typed it
    issue: str = ""  # an issue code, e.g. totals_mismatch
    period: str = ""  # YYYY or YYYY-MM

    def __post_init__(self) -> None:
        if self.status and self.status not in {str(s) for s in Status}:
            raise ConfigError(f"status {self.status!r} is not one of {', '.join(str(s) for s in Status)}")
        if self.period and not _PERIOD.fullmatch(self.period):
            raise ConfigError(f"period {self.period!r} is not YYYY or YYYY-MM")
        for name in ("doc_type", "issue"):
            value = getattr(self, name)
            if value and not _NAME.fullmatch(value):
                raise ConfigError(f"{name} {value!r} is not a name (letters, digits, underscores)")
        if len(self.vendor) > 200:
            raise ConfigError("vendor: at most 200 characters")

    @classmethod
    def from_query(cls, params: Mapping[str, str]) -> QueueFilter:
        """From a URL's query (`type`, `status`, `vendor`, `issue`, `period`); other keys are ignored."""
        return cls(
            doc_type=params.get("type", "").strip(),
            status=params.get("status", "").strip(),
            vendor=params.get("vendor", "").strip(),
            issue=params.get("issue", "").strip(),
            period=params.get("period", "").strip(),
        )

    def query(self, **extra: Any) -> str:
        """The URL query that gives this filter back, with `extra` keys set (or, empty, left out)."""
        names = {"doc_type": "type", "status": "status", "vendor": "vendor", "issue": "issue", "period": "period"}
        pairs: dict[str, Any] = {names[k]: v for k, v in asdict(self).items()}
        pairs.update(extra)
        return urlencode({k: v for k, v in pairs.items() if v not in (None, "")})

    def where(self, q: _Query, *, with_status: bool = True) -> _Query:
        if self.doc_type:
            q = q.where(DocumentRow.doc_type == self.doc_type)
        if self.status and with_status:
            q = q.where(DocumentRow.queue_rank == QUEUE_RANK[self.status], DocumentRow.status == self.status)
        if self.vendor:
            q = q.where(DocumentRow.vendor_key == vendor_key(self.vendor))
        if self.issue:
            codes = select(DocumentIssue.document_id).where(DocumentIssue.code == self.issue)
            q = q.where(DocumentRow.id.in_(codes))
        if self.period:
            start, end = period_bounds(self.period)
            q = q.where(DocumentRow.doc_date >= start, DocumentRow.doc_date < end)
        return q


def period_bounds(period: str) -> tuple[str, str]:
    """ISO date strings [start, end) of a YYYY or YYYY-MM period (compared as text: same order)."""
    m = _PERIOD.fullmatch(period)
    if m is None:
        raise ConfigError(f"period {period!r} is not YYYY or YYYY-MM")
    year, month = int(m[1]), int(m[2]) if m[2] else None
    if month is None:
        return f"{year:04d}-01-01", f"{year + 1:04d}-01-01"
    after = (year + 1, 1) if month == 12 else (year, month + 1)
    return f"{year:04d}-{month:02d}-01", f"{after[0]:04d}-{after[1]:02d}-01"


@dataclass(frozen=True)
class QueueItem:
    id: int
    source_name: str
    doc_type: str
    status: str
    vendor: str
    date: str
    total: str
    currency: str
    issues: list[str]  # codes, in the document's order
    updated_at: datetime


@dataclass(frozen=True)
class QueuePage:
    items: list[QueueItem]
    page: int
    pages: int
    total: int  # documents matching the filter
    counts: dict[str, int] = field(default_factory=dict)  # per status, under the other filters


def queue_page(store: Store, flt: QueueFilter, page: int = 1, per_page: int = PER_PAGE) -> QueuePage:
    counts = status_counts(store, flt)
    total = counts.get(flt.status, 0) if flt.status else sum(counts.values())
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    columns = (
        DocumentRow.id, DocumentRow.source_name, DocumentRow.doc_type, DocumentRow.status,
        DocumentRow.data, DocumentRow.issues, DocumentRow.updated_at,
    )  # fmt: skip
    # The page's ids first, from the index alone; then only those rows: a deep page costs an
    # index walk, not a sort of every row's JSON (which PostgreSQL would otherwise choose).
    ids = flt.where(select(DocumentRow.id)).order_by(*ORDER).limit(per_page).offset((page - 1) * per_page)
    with store.session() as s:
        wanted = list(s.scalars(ids))
        items = [_item(row) for row in s.execute(select(*columns).where(DocumentRow.id.in_(wanted)).order_by(*ORDER))]
    return QueuePage(items, page, pages, total, counts)


def _item(row: Any) -> QueueItem:
    data = row.data if isinstance(row.data, dict) else {}
    text = {k: v if isinstance(v, str) else "" for k, v in data.items()}
    return QueueItem(
        id=row.id,
        source_name=row.source_name,
        doc_type=row.doc_type,
        status=row.status,
        vendor=text.get("vendor_name") or text.get("bank_name") or text.get("account_holder") or "",
        date=text.get("date") or text.get("statement_date") or text.get("period_end") or "",
        total=text.get("total_amount") or text.get("closing_balance") or "",
        currency=text.get("currency") or "",
        issues=[str(i.get("code")) for i in row.issues or [] if isinstance(i, dict)],
        updated_at=row.updated_at,
    )


def status_counts(store: Store, flt: QueueFilter) -> dict[str, int]:
    """Documents per status under the filter's other conditions (what the status tabs show).

    Grouped by `queue_rank` (one rank per status), which the indexes hold: no row is read."""
    rank = DocumentRow.queue_rank
    q = flt.where(select(rank, func.count()), with_status=False).group_by(rank)
    with store.session() as s:
        return {_STATUS_OF_RANK.get(r, "other") if r is not None else "other": int(n) for r, n in s.execute(q)}


def next_document(store: Store, doc_id: int, flt: QueueFilter) -> int | None:
    """The document after `doc_id` in the queue's order under `flt` (None at the end)."""
    with store.session() as s:
        here = s.execute(
            select(DocumentRow.queue_rank, DocumentRow.updated_at).where(DocumentRow.id == doc_id)
        ).one_or_none()
        if here is None:
            return None
        rank, updated = here
        later = or_(
            DocumentRow.queue_rank > rank,
            and_(DocumentRow.queue_rank == rank, DocumentRow.updated_at < updated),
            and_(DocumentRow.queue_rank == rank, DocumentRow.updated_at == updated, DocumentRow.id < doc_id),
        )
        q = flt.where(select(DocumentRow.id)).where(later).order_by(*ORDER).limit(1)
        return s.scalar(q)


@dataclass(frozen=True)
class QueueChoices:
    doc_types: list[str]
    issue_codes: list[str]
    vendors: list[str]  # vendor keys, most frequent first


def queue_choices(store: Store, max_vendors: int = 200) -> QueueChoices:
    """What the filters can be set to (from the indexed columns)."""
    with store.session() as s:
        types = list(s.scalars(select(DocumentRow.doc_type).distinct().order_by(DocumentRow.doc_type)))
        codes = list(s.scalars(select(DocumentIssue.code).distinct().order_by(DocumentIssue.code)))
        count = func.count().label("n")
        vendors = s.execute(
            select(DocumentRow.vendor_key, count)
            .where(DocumentRow.vendor_key.is_not(None))
            .group_by(DocumentRow.vendor_key)
            .order_by(count.desc(), DocumentRow.vendor_key)
            .limit(max_vendors)
        )
        return QueueChoices(types, codes, [str(v) for v, _ in vendors])
