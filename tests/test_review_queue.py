"""The review queue's queries and the store columns behind them: order (needs_review, failed, ok;
newest first), filters (type, status, vendor, issue code, period), counts, paging, the next
document, and the migration that gives a store written before these columns its queue."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from ledgerlens.pipeline.books.duplicates import flag_duplicates
from ledgerlens.pipeline.books.queue import QueueFilter, next_document, period_bounds, queue_choices, queue_page
from ledgerlens.pipeline.books.store import DocumentIssue, DocumentRow, Store
from ledgerlens.pipeline.errors import ConfigError
from ledgerlens.pipeline.types import DocumentResult, Issue, Severity, Status
from sqlalchemy import create_engine, inspect, select, text, update

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def _result(n: int, status: Status = Status.OK, **kw: Any) -> DocumentResult:
    data = {"vendor_name": kw.get("vendor", "Acme Supplies GmbH"), "date": kw.get("date", "2026-10-03")}
    data["total_amount"] = f"{n}.00"
    codes = kw.get("codes", ["totals_mismatch"] if status is Status.NEEDS_REVIEW else [])
    issues = [Issue("validate", c, Severity.ERROR, f"{c} on {n}", field="total_amount") for c in codes]
    if status is Status.FAILED:
        issues, data = [Issue("load", "corrupt_pdf", Severity.FATAL, "damaged")], {}
    return DocumentResult(
        sha256=f"{n:064x}", source_name=f"doc{n}.pdf", media_type="application/pdf", page_count=1,
        doc_type=kw.get("doc_type", "invoice"), status=status, data=data, issues=issues, confidence={},
        provenance={}, timings={},
    )  # fmt: skip


def _fill(store: Store, results: list[DocumentResult]) -> list[int]:
    """Save each result, the later ones updated later (the queue is newest first)."""
    ids = []
    for i, r in enumerate(results):
        doc_id = store.save(r)
        with store.session() as s:
            s.execute(update(DocumentRow).where(DocumentRow.id == doc_id).values(updated_at=T0 + timedelta(minutes=i)))
        ids.append(doc_id)
    return ids


@pytest.fixture
def filled(store: Store) -> tuple[Store, list[int]]:
    results = [
        _result(1, Status.OK),
        _result(2, Status.NEEDS_REVIEW),
        _result(3, Status.FAILED),
        _result(4, Status.NEEDS_REVIEW, vendor="ACME Supplies, GmbH", codes=["low_confidence"], date="2025-12-31"),
        _result(5, Status.OK, doc_type="receipt", vendor="Café Müller"),
        _result(6, Status.NEEDS_REVIEW, doc_type="receipt", vendor="Café Müller", codes=["missing_field"]),
    ]
    return store, _fill(store, results)


def _ids(page: Any) -> list[int]:
    return [item.id for item in page.items]


def test_the_queue_puts_review_first_then_failed_then_ok_newest_first(filled: tuple[Store, list[int]]) -> None:
    store, ids = filled
    page = queue_page(store, QueueFilter())
    assert _ids(page) == [ids[5], ids[3], ids[1], ids[2], ids[4], ids[0]]
    assert page.counts == {"needs_review": 3, "failed": 1, "ok": 2} and page.total == 6
    first = page.items[0]
    assert (first.vendor, first.date, first.total, first.issues) == (
        "Café Müller",
        "2026-10-03",
        "6.00",
        ["missing_field"],
    )


def test_filters_by_type_status_vendor_issue_and_period(filled: tuple[Store, list[int]]) -> None:
    store, ids = filled
    assert _ids(queue_page(store, QueueFilter(doc_type="receipt"))) == [ids[5], ids[4]]
    assert _ids(queue_page(store, QueueFilter(status="ok"))) == [ids[4], ids[0]]
    # Vendors match as duplicates do: case, punctuation and the legal form aside.
    assert _ids(queue_page(store, QueueFilter(vendor="acme supplies"))) == [ids[3], ids[1], ids[0]]
    assert _ids(queue_page(store, QueueFilter(issue="low_confidence"))) == [ids[3]]
    assert _ids(queue_page(store, QueueFilter(period="2025"))) == [ids[3]]
    assert _ids(queue_page(store, QueueFilter(period="2026-10", doc_type="invoice"))) == [ids[1], ids[0]]
    page = queue_page(store, QueueFilter(doc_type="invoice", status="needs_review"))
    assert _ids(page) == [ids[3], ids[1]] and page.counts == {"needs_review": 2, "failed": 1, "ok": 1}


def test_paging_and_the_next_document(filled: tuple[Store, list[int]]) -> None:
    store, ids = filled
    pages = [queue_page(store, QueueFilter(), page=n, per_page=4) for n in (1, 2, 9)]
    assert [p.pages for p in pages] == [2, 2, 2]
    assert _ids(pages[0]) + _ids(pages[1]) == [ids[5], ids[3], ids[1], ids[2], ids[4], ids[0]]
    assert _ids(pages[2]) == _ids(pages[1])  # past the end: the last page
    order = [ids[5], ids[3], ids[1], ids[2], ids[4], ids[0]]
    assert [next_document(store, d, QueueFilter()) for d in order] == [*order[1:], None]
    assert next_document(store, ids[5], QueueFilter(doc_type="invoice")) == ids[3]


def test_choices_list_types_codes_and_vendors(filled: tuple[Store, list[int]]) -> None:
    store, _ = filled
    choices = queue_choices(store)
    assert choices.doc_types == ["invoice", "receipt"]
    assert choices.issue_codes == ["corrupt_pdf", "low_confidence", "missing_field", "totals_mismatch"]
    assert choices.vendors == ["acme supplies", "cafe muller"]


@pytest.mark.parametrize(
    "kw", [{"status": "done"}, {"period": "2026-13"}, {"period": "26"}, {"issue": "x;drop"}, {"doc_type": "<b>"}]
)
def test_a_bad_filter_is_a_clear_error(kw: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        QueueFilter(**kw)


def test_period_bounds() -> None:
    assert period_bounds("2026") == ("2026-01-01", "2027-01-01")
    assert period_bounds("2026-12") == ("2026-12-01", "2027-01-01")
    assert period_bounds("2026-02") == ("2026-02-01", "2026-03-01")


def test_issue_codes_follow_every_write(store: Store) -> None:
    """Processing again, duplicate flags: the issue-code rows change with the document's issues."""
    a, b = _fill(store, [_result(1, Status.OK), _result(2, Status.OK)])
    same = {"vendor_name": "Acme", "total_amount": "1.00", "invoice_number": "X", "date": "2026-10-03"}
    with store.session() as s:  # a Core update, beside the ORM: two invoices become one bill
        s.execute(update(DocumentRow).where(DocumentRow.id.in_([a, b])).values(data=same))
    flag_duplicates(store)  # an ORM write: the mapper event keeps the codes and the rank in line
    assert _ids(queue_page(store, QueueFilter(issue="duplicate_invoice"))) == [b]
    assert queue_page(store, QueueFilter()).items[0].id == b  # needs_review now: first in the queue
    store.save(_result(2, Status.OK))  # processed again: no issue any more
    assert _ids(queue_page(store, QueueFilter(issue="duplicate_invoice"))) == []


def test_the_duplicate_check_for_some_vendors_touches_only_theirs(store: Store) -> None:
    same = {"invoice_number": "X", "date": "2026-10-03", "total_amount": "1.00"}
    results = [_result(n, vendor=v) for n, v in enumerate(["Acme", "Acme", "Bolt", "Bolt"], start=1)]
    for r in results:
        r.data.update(same)
    ids = _fill(store, results)
    assert flag_duplicates(store, vendors={"ACME GmbH"}) == 1  # Acme's second copy; Bolt's are not looked at
    assert _ids(queue_page(store, QueueFilter(issue="duplicate_invoice"))) == [ids[1]]
    assert flag_duplicates(store, vendors={None, ""}) == 0
    assert flag_duplicates(store) == 1 and len(_ids(queue_page(store, QueueFilter(issue="duplicate_invoice")))) == 2


def test_each_save_counts_a_version(store: Store) -> None:
    doc_id = store.save(_result(1))
    assert store.get_by_id(doc_id).version == 1  # type: ignore[union-attr]
    store.save(_result(1))
    assert store.get_by_id(doc_id).version == 2  # type: ignore[union-attr]


# --- migration -------------------------------------------------------------------------------

OLD_COLUMNS = (
    "id {serial}, sha256 VARCHAR(64) NOT NULL UNIQUE, source_name VARCHAR(1024) NOT NULL, "
    "source_path VARCHAR(4096), media_type VARCHAR(100) NOT NULL, page_count INTEGER NOT NULL, "
    "doc_type VARCHAR(64) NOT NULL, status VARCHAR(20) NOT NULL, data JSON NOT NULL, issues JSON NOT NULL, "
    "confidence JSON NOT NULL, provenance JSON NOT NULL, timings JSON NOT NULL, attempts INTEGER NOT NULL, "
    "created_at {time} NOT NULL, updated_at {time} NOT NULL"
)


def _old_store(url: str, rows: int) -> None:
    """A documents table as ledgerlens wrote it before the review queue, with `rows` documents."""
    engine = create_engine(url)
    pg = engine.dialect.name == "postgresql"
    columns = OLD_COLUMNS.format(
        serial="SERIAL PRIMARY KEY" if pg else "INTEGER NOT NULL PRIMARY KEY",
        time="TIMESTAMP WITH TIME ZONE" if pg else "DATETIME",
    )
    with engine.begin() as conn:
        conn.execute(text(f"CREATE TABLE documents ({columns})"))
        for n in range(1, rows + 1):
            r = _result(n, Status.NEEDS_REVIEW if n % 3 == 0 else Status.OK)
            conn.execute(
                text(
                    "INSERT INTO documents (sha256, source_name, media_type, page_count, doc_type, status, data, "
                    "issues, confidence, provenance, timings, attempts, created_at, updated_at) VALUES (:sha, :name, "
                    "'application/pdf', 1, 'invoice', :status, :data, :issues, '{}', '{}', '{}', 1, :at, :at)"
                ),
                {"sha": r.sha256, "name": r.source_name, "status": str(r.status), "data": json.dumps(r.data),
                 "issues": json.dumps([i.to_dict() for i in r.issues]), "at": T0 + timedelta(minutes=n)},
            )  # fmt: skip
    engine.dispose()


def _check_migrated(url: str, rows: int) -> None:
    store = Store(url)
    try:
        columns = {c["name"] for c in inspect(store.engine).get_columns("documents")}
        assert {"version", "queue_rank", "vendor_key", "doc_date"} <= columns
        indexes = {i["name"] for i in inspect(store.engine).get_indexes("documents")}
        assert {"ix_documents_queue", "ix_documents_type_queue", "ix_documents_vendor_key"} <= indexes
        page = queue_page(store, QueueFilter(issue="totals_mismatch"), per_page=1000)
        assert page.total == rows // 3 and all(item.status == "needs_review" for item in page.items)
        assert queue_page(store, QueueFilter()).items[0].status == "needs_review"
        assert store.get_by_id(1).version == 0  # type: ignore[union-attr]
        with store.session() as s:
            assert s.scalar(select(DocumentRow.id).where(DocumentRow.queue_rank.is_(None))) is None
            assert len(list(s.scalars(select(DocumentIssue.document_id)))) == rows // 3
        store.save(_result(3))  # an old row written again: version counted from 0
        assert store.get_by_id(3).version == 1  # type: ignore[union-attr]
    finally:
        store.close()
    Store(url).close()  # opening it again changes nothing and does not fail


def test_an_old_sqlite_store_gets_the_queue_columns_on_open(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    _old_store(url, 1201)  # more than one backfill batch
    _check_migrated(url, 1201)


@pytest.mark.slow
def test_an_old_postgresql_store_gets_the_queue_columns_on_open() -> None:
    pytest.importorskip("psycopg")
    from postgres_server import binaries, postgres_server

    if binaries() is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed: `make apt-test` installs Debian's postgresql")
        pytest.skip("PostgreSQL server binaries not installed (apt-get install postgresql)")
    with postgres_server() as pg:
        url = pg.url(pg.create_database("old_store"))
        _old_store(url, 40)
        _check_migrated(url, 40)
