"""`ledgerlens status` and `ledgerlens retry`: what a person sees of the intake, and sending failed
documents back after a fix (no Prefect: the documents are run with `run_document`)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from ledgerlens.pipeline.books.store import Store
from ledgerlens.pipeline.chain import Context
from ledgerlens.pipeline.intake.claims import claim, send_back
from ledgerlens.pipeline.intake.jobs import run_document
from ledgerlens.pipeline.intake.journal import FAILED, RETRIED, Journal
from ledgerlens.pipeline.intake.watcher import entry_for
from ledgerlens.pipeline.intake.workspace import Workspace, init_workspace, workspace_lock

from ledgerlens.cli import main

RECEIPT = "receipt_gb_cafe.pdf"


@pytest.fixture
def context(replay_context: Context) -> Context:
    """The documents here are payload: the replay engine gives their recorded reading (tests/replay.py)."""
    return replay_context


@pytest.fixture
def books(tmp_path: Path, samples: Path, context: Context) -> Workspace:
    """A workspace after one good document, a copy of it, a corrupt one in a sub-folder and a link."""
    ws = init_workspace(tmp_path / "books")
    store = Store.for_workspace(ws.root)
    journal = Journal(store)
    (ws.intake / "receipts").mkdir()
    shutil.copy(samples / RECEIPT, ws.intake / RECEIPT)
    shutil.copy(samples / RECEIPT, ws.intake / "copy.pdf")
    (ws.intake / "receipts" / "torn.pdf").write_bytes(b"%PDF-1.7\ncut off here")
    os.symlink("/etc/hostname", ws.intake / "link.pdf")
    for rel in (RECEIPT, "copy.pdf", "receipts/torn.pdf", "link.pdf"):
        row = claim(entry_for(ws.intake / rel, ws.intake), ws, store, journal)
        assert row is not None
        if row.state == "queued":
            run_document(row.id, ws, context, store, journal)
    (ws.intake / "waiting.pdf").write_bytes(b"still arriving")
    store.close()
    return ws


def test_status_counts_every_state_and_lists_failures_with_reasons(
    books: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status", str(books.root), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["watcher_pid"] is None
    assert info["waiting_in_intake"] == 1
    assert info["files"] == {
        "queued": 0,
        "done": 1,
        "duplicate": 1,
        "failed": 2,
        "gone": 0,
        "retried": 0,
        "in_flight": 0,
    }
    assert info["documents"] == {"ok": 1, "failed": 1}
    failures = {f["file"]: f for f in info["last_failures"]}
    assert set(failures) == {"torn.pdf", "link.pdf"}
    assert failures["torn.pdf"]["stage"] == "load" and failures["torn.pdf"]["reason"]
    assert failures["link.pdf"]["code"] == "not_a_regular_file"


def test_status_in_words_names_the_failed_files_and_the_way_out(
    books: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status", str(books.root)]) == 0
    out = capsys.readouterr().out
    assert "watcher: not running" in out
    assert "failed/torn.pdf" in out and "load/" in out
    assert "ledgerlens retry" in out


def test_status_shows_a_running_watcher(books: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    with workspace_lock(books, "claim"):  # what `ledgerlens watch` holds while it runs
        assert main(["status", str(books.root), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["watcher_pid"] == str(os.getpid())


def test_retry_sends_failed_documents_back_to_their_sub_folder(
    books: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["retry", str(books.root)]) == 0
    assert (books.intake / "receipts" / "torn.pdf").read_bytes() == b"%PDF-1.7\ncut off here"
    assert not (books.failed / "torn.pdf").exists()
    assert (books.failed / "link.pdf").is_symlink()  # a link is never processed: it stays
    kept = list((books.failed / "retried").iterdir())
    assert len(kept) == 1 and kept[0].name.startswith("torn.pdf") and kept[0].name.endswith(".error.json")
    assert "torn.pdf -> intake/receipts/torn.pdf" in capsys.readouterr().out
    store = Store.for_workspace(books.root)
    rows = {r.name: r for r in Journal(store).rows()}
    store.close()
    assert (rows["torn.pdf"].state, rows["torn.pdf"].path) == (RETRIED, "intake/receipts/torn.pdf")
    assert rows["link.pdf"].state == FAILED


def test_retry_of_one_named_file(books: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["retry", str(books.root), "torn.pdf"]) == 0
    assert (books.intake / "receipts" / "torn.pdf").exists()
    assert main(["retry", str(books.root), "nope.pdf"]) == 2
    assert "no failed document 'nope.pdf'" in capsys.readouterr().err


def test_retry_inside_the_workspace_takes_a_file_name_alone(books: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(books.root)
    assert main(["retry", "torn.pdf"]) == 0
    assert (books.intake / "receipts" / "torn.pdf").exists()


def test_retry_never_overwrites_a_file_waiting_in_intake(books: Workspace) -> None:
    (books.intake / "receipts" / "torn.pdf").write_bytes(b"a new scan of the same name")
    store = Store.for_workspace(books.root)
    target = send_back(books.failed / "torn.pdf", books, Journal(store))
    store.close()
    assert target != books.intake / "receipts" / "torn.pdf"
    assert (books.intake / "receipts" / "torn.pdf").read_bytes() == b"a new scan of the same name"
    assert target.read_bytes() == b"%PDF-1.7\ncut off here"


def test_nothing_to_retry(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = init_workspace(tmp_path / "empty")
    assert main(["retry", str(ws.root)]) == 0
    assert "Nothing to retry" in capsys.readouterr().out
