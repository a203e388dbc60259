"""Workspace folders and the life of a file in them: intake -> processing -> done | failed (+ note).
Nothing is overwritten, nothing is lost, and the store knows where a file went before it moves."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime
from pathlib import Path

import pytest
from ledgerlens.pipeline.books.store import Store
from ledgerlens.pipeline.config import Config
from ledgerlens.pipeline.errors import ConfigError
from ledgerlens.pipeline.intake.record import record_result
from ledgerlens.pipeline.intake.workspace import (
    Workspace,
    claim,
    find_workspace,
    free_path,
    init_workspace,
    list_inputs,
)
from ledgerlens.pipeline.types import DocumentResult, Issue, Severity, Status

FOLDERS = ("intake", "processing", "done", "failed", "exports")


def _drop(ws: Workspace, name: str, content: bytes = b"%PDF-1.7 fake") -> Path:
    path = ws.intake / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def _result(path: Path, status: Status, name: str | None = None) -> DocumentResult:
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    if status is Status.FAILED:
        issues = [Issue("load", "encrypted_pdf", Severity.FATAL, "The PDF is password-protected.", page=1)]
        provenance = {"error": {"stage": "load", "code": "encrypted_pdf", "hint": "Remove the password."}}
    else:
        issues = []
        provenance = {"engine": {"name": "ocr"}}
    return DocumentResult(
        sha256=sha,
        source_name=name or path.name,
        media_type="application/pdf",
        page_count=1,
        doc_type="unknown" if status is Status.FAILED else "invoice",
        status=status,
        data={} if status is Status.FAILED else {"total_amount": "119.00"},
        issues=issues,
        confidence={},
        provenance=provenance,
        timings={"load": 0.01},
    )


# ---------------------------------------------------------------- workspace


def test_init_workspace_creates_the_folders_and_a_config_that_loads(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "books")
    assert ws.root == (tmp_path / "books").resolve()
    for name in FOLDERS:
        assert (ws.root / name).is_dir(), name
    assert ws.config_path == ws.root / "ledgerlens.toml"
    assert ws.config() == Config()


def test_init_workspace_is_idempotent_and_keeps_an_edited_config(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "books")
    ws.config_path.write_text("[pipeline]\ndpi = 300\n", encoding="utf-8")
    keep = _drop(ws, "waiting.pdf")
    again = init_workspace(tmp_path / "books")
    assert again == ws
    assert again.config().pipeline.dpi == 300
    assert keep.exists()


def test_find_workspace_from_the_root_and_from_a_sub_folder(ws: Workspace) -> None:
    deep = ws.intake / "2025" / "march"
    deep.mkdir(parents=True)
    assert find_workspace(ws.root) == ws
    assert find_workspace(deep) == ws
    assert find_workspace(deep / "not-yet-there.pdf") == ws


def test_find_workspace_outside_any_workspace_raises_config_error(tmp_path: Path) -> None:
    (tmp_path / "loose").mkdir()
    with pytest.raises(ConfigError, match=r"not inside a ledgerlens workspace.*ledgerlens init"):
        find_workspace(tmp_path / "loose")


# ---------------------------------------------------------------- inputs


def test_list_inputs_recurses_sorts_and_skips_what_is_never_a_document(ws: Workspace) -> None:
    for name in [
        "b.pdf",
        "a.png",
        "2025/03/z.jpg",
        "2025/01/y.tiff",
        ".DS_Store",
        "~$budget.xlsx",
        "big.pdf.part",
        "download.pdf.crdownload",
        "c.pdf.error.json",
        ".hidden/secret.pdf",
    ]:
        _drop(ws, name)
    found = [p.relative_to(ws.intake).as_posix() for p in list_inputs(ws.intake)]
    assert found == ["a.png", "b.pdf", "2025/01/y.tiff", "2025/03/z.jpg"]


def test_list_inputs_never_follows_a_symlinked_directory(ws: Workspace, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "private.pdf").write_bytes(b"x")
    os.symlink(elsewhere, ws.intake / "linked", target_is_directory=True)
    os.symlink(ws.intake, ws.intake / "loop", target_is_directory=True)  # would recurse forever
    _drop(ws, "real.pdf")
    assert list_inputs(ws.intake) == [ws.intake / "real.pdf"]


def test_list_inputs_of_an_empty_or_missing_folder_is_empty(ws: Workspace) -> None:
    assert list_inputs(ws.intake) == []
    assert list_inputs(ws.root / "nope") == []


# ---------------------------------------------------------------- moves


def test_claim_moves_the_file_into_processing(ws: Workspace) -> None:
    path = _drop(ws, "invoice.pdf", b"bytes")
    claimed = claim(path, ws, "t1")
    assert claimed == ws.processing / "invoice.pdf"
    assert not path.exists()
    assert claimed.read_bytes() == b"bytes"


def test_claiming_the_same_name_twice_keeps_both(ws: Workspace) -> None:
    first = claim(_drop(ws, "invoice.pdf", b"one"), ws, "t1")
    second = claim(_drop(ws, "invoice.pdf", b"two"), ws, "t2")
    assert first != second
    assert "t2" in second.name
    assert first.read_bytes() == b"one"
    assert second.read_bytes() == b"two"


def test_free_path_never_overwrites(tmp_path: Path) -> None:
    folder = tmp_path / "done"
    first = free_path(folder, "scan.pdf", "abcd1234")
    assert first == folder / "scan.pdf"  # the folder is created on demand
    first.write_bytes(b"1")
    second = free_path(folder, "scan.pdf", "abcd1234")
    assert second.name == "scan.abcd1234.pdf"  # the extension stays last
    second.write_bytes(b"2")
    third = free_path(folder, "scan.pdf", "abcd1234")
    assert third not in (first, second)
    assert "abcd1234" in third.name
    assert not third.exists()


def test_free_path_for_a_name_without_extension(tmp_path: Path) -> None:
    (tmp_path / "README").write_bytes(b"x")
    assert free_path(tmp_path, "README", "abcd1234") == tmp_path / "README.abcd1234"


def test_free_path_keeps_the_error_note_of_an_earlier_file(tmp_path: Path) -> None:
    # The failed file was taken away but its note stays: a new file must not take over the note.
    (tmp_path / "scan.pdf.error.json").write_text("{}", encoding="utf-8")
    assert free_path(tmp_path, "scan.pdf", "abcd1234") == tmp_path / "scan.abcd1234.pdf"
    (tmp_path / "scan.abcd1234.pdf.error.json").write_text("{}", encoding="utf-8")
    third = free_path(tmp_path, "scan.pdf", "abcd1234")
    assert not Path(f"{third}.error.json").exists()


# ---------------------------------------------------------------- record


def test_record_result_stores_the_row_then_moves_the_file_to_done(ws: Workspace, store: Store) -> None:
    claimed = claim(_drop(ws, "invoice.pdf"), ws, "t")
    result = _result(claimed, Status.NEEDS_REVIEW)
    stored = record_result(result, claimed, ws, store)
    assert not claimed.exists()
    assert (ws.done / "invoice.pdf").exists()
    assert not list(ws.done.glob("*.error.json"))
    assert stored.result.source_path == "done/invoice.pdf"
    assert store.get("invoice.pdf").result.source_path == "done/invoice.pdf"  # type: ignore[union-attr]
    assert stored.attempts == 1


def test_record_result_writes_the_store_before_the_move(ws: Workspace, store: Store) -> None:
    claimed = claim(_drop(ws, "invoice.pdf"), ws, "t")
    seen: list[bool] = []

    class WatchingStore(Store):
        def save(self, result: DocumentResult) -> int:
            seen.append(claimed.exists())  # the file has not moved yet
            return super().save(result)

    watching = WatchingStore.for_workspace(ws.root)
    try:
        record_result(_result(claimed, Status.OK), claimed, ws, watching)
    finally:
        watching.close()
    assert seen == [True]


def test_a_store_failure_leaves_the_file_in_processing(ws: Workspace, store: Store) -> None:
    claimed = claim(_drop(ws, "invoice.pdf"), ws, "t")

    class BrokenStore(Store):
        def save(self, result: DocumentResult) -> int:
            raise RuntimeError("disk full")

    broken = BrokenStore.for_workspace(ws.root)
    try:
        with pytest.raises(RuntimeError, match="disk full"):
            record_result(_result(claimed, Status.OK), claimed, ws, broken)
    finally:
        broken.close()
    assert claimed.exists()
    assert list(ws.done.iterdir()) == []


def test_a_failed_result_goes_to_failed_with_an_error_note(ws: Workspace, store: Store) -> None:
    claimed = claim(_drop(ws, "locked.pdf"), ws, "t")
    result = _result(claimed, Status.FAILED)
    stored = record_result(result, claimed, ws, store)
    target = ws.failed / "locked.pdf"
    assert target.exists()
    assert stored.result.source_path == "failed/locked.pdf"
    note = json.loads((ws.failed / "locked.pdf.error.json").read_text(encoding="utf-8"))
    assert note["file"] == "locked.pdf"
    assert note["stage"] == "load"
    assert note["code"] == "encrypted_pdf"
    assert note["reason"] == "The PDF is password-protected."
    assert note["hint"] == "Remove the password."
    assert note["attempts"] == 1
    assert note["sha256"] == result.sha256
    assert datetime.fromisoformat(note["time"]).tzinfo is not None
    assert not list(ws.failed.glob("*.tmp"))


def test_a_second_failure_of_the_same_bytes_counts_attempts(ws: Workspace, store: Store) -> None:
    content = b"%PDF-1.7 encrypted"
    first = claim(_drop(ws, "locked.pdf", content), ws, "t")
    record_result(_result(first, Status.FAILED), first, ws, store)
    second = claim(_drop(ws, "locked.pdf", content), ws, "t")
    stored = record_result(_result(second, Status.FAILED), second, ws, store)

    assert stored.attempts == 2
    assert len(store.all()) == 1  # same bytes, same row
    tag = hashlib.sha256(content).hexdigest()[:8]
    assert {p.name for p in ws.failed.iterdir()} == {
        "locked.pdf",
        "locked.pdf.error.json",
        f"locked.{tag}.pdf",
        f"locked.{tag}.pdf.error.json",
    }
    first_note = json.loads((ws.failed / "locked.pdf.error.json").read_text(encoding="utf-8"))
    second_note = json.loads((ws.failed / f"locked.{tag}.pdf.error.json").read_text(encoding="utf-8"))
    assert (first_note["attempts"], second_note["attempts"]) == (1, 2)
    assert stored.result.source_path == f"failed/locked.{tag}.pdf"


def test_a_failed_result_without_a_fatal_issue_still_gets_a_note(ws: Workspace, store: Store) -> None:
    claimed = claim(_drop(ws, "odd.pdf"), ws, "t")
    result = _result(claimed, Status.FAILED)
    result.issues = []
    result.provenance = {}
    record_result(result, claimed, ws, store)
    note = json.loads((ws.failed / "odd.pdf.error.json").read_text(encoding="utf-8"))
    assert (note["stage"], note["code"], note["reason"]) == ("unknown", "failed", "processing failed")
