"""The result store: one row per document bytes, found by id, hash or file name; JSON in, JSON out."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from ledgerlens.pipeline.books.store import Store
from ledgerlens.pipeline.errors import ConfigError
from ledgerlens.pipeline.types import DocumentResult, Issue, Severity, Status


def _sha(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


def _result(
    seed: str = "a",
    name: str = "invoice-42.pdf",
    doc_type: str = "invoice",
    status: Status = Status.OK,
    **data: str,
) -> DocumentResult:
    return DocumentResult(
        sha256=_sha(seed),
        source_name=name,
        media_type="application/pdf",
        page_count=2,
        doc_type=doc_type,
        status=status,
        data=data or {"total_amount": "119.00", "line_items": [{"description": "Paper", "amount": "100.00"}]},
        issues=[Issue("validate", "low_confidence", Severity.WARNING, "date was read with confidence 0.40", 1, "date")],
        confidence={"date": 0.4, "total_amount": 0.95},
        provenance={"engine": {"name": "ocr"}, "started": datetime(2025, 3, 3, 12, 0, tzinfo=UTC)},
        timings={"ocr": 1.234567, "parse": 0.00001},
        source_path="done/invoice-42.pdf",
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'ledgerlens.db'}")
    yield s
    s.close()


def test_save_returns_an_id_and_the_row_reads_back(store: Store) -> None:
    doc_id = store.save(_result())
    assert isinstance(doc_id, int)
    stored = store.get(str(doc_id))
    assert stored is not None
    assert stored.id == doc_id
    assert stored.attempts == 1
    assert stored.result.source_name == "invoice-42.pdf"
    assert stored.result.status is Status.OK
    assert stored.result.page_count == 2
    assert stored.result.source_path == "done/invoice-42.pdf"


def test_saving_the_same_bytes_again_updates_the_one_row(store: Store) -> None:
    first = store.save(_result(status=Status.FAILED))
    again = _result(status=Status.NEEDS_REVIEW, name="renamed.pdf", total_amount="120.00")
    second = store.save(again)
    assert second == first
    rows = store.all()
    assert len(rows) == 1
    (row,) = rows
    assert row.attempts == 2
    assert row.result.status is Status.NEEDS_REVIEW
    assert row.result.source_name == "renamed.pdf"
    assert row.result.data == {"total_amount": "120.00"}
    assert row.updated_at >= row.created_at


def test_different_bytes_get_different_rows(store: Store) -> None:
    a = store.save(_result("a"))
    b = store.save(_result("b"))
    assert a != b
    assert [d.id for d in store.all()] == [a, b]


def test_get_by_full_sha_and_by_a_prefix_of_eight(store: Store) -> None:
    doc_id = store.save(_result("a"))
    store.save(_result("b", name="other.pdf"))
    sha = _sha("a")
    for key in (sha, sha[:8], sha[:12].upper()):
        found = store.get(key)
        assert found is not None, key
        assert found.id == doc_id
    assert store.get_by_sha(sha).id == doc_id  # type: ignore[union-attr]
    assert store.get(sha[:7]) is None  # too short to be a hash prefix


def test_get_by_source_file_name_or_a_path_to_it(store: Store) -> None:
    doc_id = store.save(_result("a", name="invoice-42.pdf"))
    assert store.get("invoice-42.pdf").id == doc_id  # type: ignore[union-attr]
    assert store.get("done/invoice-42.pdf").id == doc_id  # type: ignore[union-attr]


def test_unknown_keys_give_none(store: Store) -> None:
    store.save(_result("a"))
    assert store.get("999") is None
    assert store.get("nothing.pdf") is None
    assert store.get("f" * 64) is None
    assert store.get_by_sha("f" * 64) is None


def test_an_ambiguous_name_raises_config_error(store: Store) -> None:
    store.save(_result("a", name="scan.pdf"))
    store.save(_result("b", name="scan.pdf"))
    with pytest.raises(ConfigError, match=r"'scan\.pdf' matches 2 documents; use an id or a sha256"):
        store.get("scan.pdf")


def test_json_round_trip_of_data_issues_confidence_and_provenance(store: Store) -> None:
    original = _result()
    store.save(original)
    back = store.get_by_sha(original.sha256)
    assert back is not None
    result = back.result
    assert result.data == original.data
    assert isinstance(result.data["total_amount"], str)
    assert result.issues == original.issues
    assert result.issues[0].severity is Severity.WARNING
    assert result.confidence == original.confidence
    # Non-JSON values in provenance (datetimes) are kept as their text, not dropped.
    assert result.provenance == {"engine": {"name": "ocr"}, "started": "2025-03-03 12:00:00+00:00"}
    assert result.timings == {"ocr": 1.2346, "parse": 0.0}


def test_decimal_in_provenance_is_stored_as_its_exact_text(store: Store) -> None:
    original = _result()
    original.provenance["threshold"] = Decimal("0.10")
    store.save(original)
    assert store.get_by_sha(original.sha256).result.provenance["threshold"] == "0.10"  # type: ignore[union-attr]


def test_all_filters_by_type_in_id_order(store: Store) -> None:
    ids = [
        store.save(_result("r1", "r1.jpg", "receipt")),
        store.save(_result("i1", "i1.pdf", "invoice")),
        store.save(_result("r2", "r2.jpg", "receipt")),
        store.save(_result("s1", "s1.pdf", "bank_statement")),
    ]
    # Updating an older row does not move it.
    store.save(_result("r1", "r1.jpg", "receipt"))
    assert [d.id for d in store.all()] == ids
    assert [d.result.source_name for d in store.all(doc_type="receipt")] == ["r1.jpg", "r2.jpg"]
    assert [d.id for d in store.all(doc_type="bank_statement")] == [ids[3]]
    assert store.all(doc_type="unknown") == []


def test_a_second_store_on_the_same_file_sees_the_rows(tmp_path: Path) -> None:
    first = Store.for_workspace(tmp_path)
    doc_id = first.save(_result())
    second = Store.for_workspace(tmp_path)
    try:
        assert (tmp_path / "ledgerlens.db").is_file()
        assert second.get(str(doc_id)) is not None
        assert second.save(_result()) == doc_id  # and updates the same row
        assert first.get(str(doc_id)).attempts == 2  # type: ignore[union-attr]
    finally:
        first.close()
        second.close()


def test_a_reopened_store_keeps_the_rows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    s = Store(url)
    s.save(_result())
    s.close()
    reopened = Store(url)
    try:
        assert len(reopened.all()) == 1
    finally:
        reopened.close()


@pytest.mark.parametrize("url", ["not a url", "nosuchdb://host/db", "sqlite+nodriver:///x.db"])
def test_an_invalid_url_raises_config_error(url: str) -> None:
    with pytest.raises(ConfigError, match="cannot open store"):
        Store(url)
