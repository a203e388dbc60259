"""Watching intake/: the scan, stability detection, folder hints and claiming (no Prefect).

A file is taken only once it has stopped changing; it is claimed by a rename into processing/
after the journal row naming both paths is committed; links, pipes and devices are set aside to
failed/ without ever being opened.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
from pathlib import Path

import pytest
from ledgerlens.pipeline.books.store import Store
from ledgerlens.pipeline.doctypes.schemas import load_schemas
from ledgerlens.pipeline.intake import claims as claims_module
from ledgerlens.pipeline.intake.claims import IntakePoller, claim
from ledgerlens.pipeline.intake.journal import FAILED, QUEUED, Journal
from ledgerlens.pipeline.intake.watcher import Stability, entry_for, folder_hints, scan
from ledgerlens.pipeline.intake.workspace import Workspace, workspace_lock

PURCHASE_ORDER_CARD = Path(__file__).parent / "fixtures" / "doctypes" / "purchase_order.schema.json"


def _drop(ws: Workspace, rel: str, content: bytes = b"%PDF-1.7 fake") -> Path:
    path = ws.intake / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# ---------------------------------------------------------------- scan


def test_scan_recurses_and_skips_partial_hidden_and_lock_files(ws: Workspace) -> None:
    for rel in [
        "b.pdf",
        "invoices/acme/a.pdf",
        "upload.pdf.part",
        "scan.PDF.crdownload",
        "winscp.pdf.filepart",
        "~$report.docx",
        ".DS_Store",
        ".sync/hidden.pdf",
        "old.pdf.error.json",
    ]:
        _drop(ws, rel)
    assert [(e.rel, e.kind, e.folder) for e in scan(ws.intake)] == [
        ("b.pdf", "file", ""),
        ("invoices/acme/a.pdf", "file", "invoices/acme"),
    ]


def test_scan_reports_links_and_pipes_without_following_them(ws: Workspace, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.pdf").write_bytes(b"private")
    os.symlink(outside / "secret.pdf", ws.intake / "link.pdf")
    os.symlink(outside, ws.intake / "linked-folder")
    os.mkfifo(ws.intake / "pipe.pdf")
    found = {e.rel: e.kind for e in scan(ws.intake)}
    assert found == {"link.pdf": "symlink", "linked-folder": "symlink", "pipe.pdf": "fifo"}


def test_scan_of_a_missing_folder_is_empty(tmp_path: Path) -> None:
    assert scan(tmp_path / "nope") == []


# ---------------------------------------------------------------- stability


def test_a_file_is_stable_only_after_it_stopped_changing_for_the_wait(ws: Workspace) -> None:
    clock = Clock()
    stability = Stability(stable_s=5.0, clock=clock)
    path = _drop(ws, "scan.pdf", b"%PDF-1.7 first half")
    assert stability.stable(scan(ws.intake)) == []  # first sight: never yet
    clock.now += 3
    with path.open("ab") as f:  # the scanner is still writing
        f.write(b" second half")
    assert stability.stable(scan(ws.intake)) == []
    clock.now += 4.9  # 4.9 s since the last change
    assert stability.stable(scan(ws.intake)) == []
    clock.now += 0.2
    assert [e.rel for e in stability.stable(scan(ws.intake))] == ["scan.pdf"]


def test_a_changed_mtime_or_a_replaced_file_restarts_the_wait(ws: Workspace) -> None:
    clock = Clock()
    stability = Stability(stable_s=2.0, clock=clock)
    path = _drop(ws, "a.pdf", b"same size!")
    stability.stable(scan(ws.intake))
    clock.now += 1.5
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))  # touched, same size
    assert stability.stable(scan(ws.intake)) == []
    clock.now += 1.5
    assert stability.stable(scan(ws.intake)) == []  # 1.5 s since the touch
    replacement = ws.intake / "a.pdf.tmp"
    replacement.write_bytes(b"same size?")
    os.replace(replacement, path)  # an editor's save: same name, new inode
    clock.now += 1.0
    assert stability.stable(scan(ws.intake)) == []
    clock.now += 2.0
    assert [e.rel for e in stability.stable(scan(ws.intake))] == ["a.pdf"]


def test_stability_forgets_files_that_went_away(ws: Workspace) -> None:
    clock = Clock()
    stability = Stability(stable_s=1.0, clock=clock)
    path = _drop(ws, "a.pdf")
    stability.stable(scan(ws.intake))
    path.unlink()
    clock.now += 5
    assert stability.stable(scan(ws.intake)) == []
    _drop(ws, "a.pdf")  # back again: a new first sight
    assert stability.stable(scan(ws.intake)) == []


# ---------------------------------------------------------------- folder hints


@pytest.mark.parametrize(
    ("folder", "expected"),
    [
        ("", (None, [])),
        ("invoices", ("invoice", [])),
        ("Invoice/acme/2025", ("invoice", ["acme", "2025"])),
        ("acme/receipts", ("receipt", ["acme"])),
        ("Bank Statements", ("bank_statement", [])),
        ("bank-statement", ("bank_statement", [])),
        ("statements/receipts", ("bank_statement", ["receipts"])),  # the first type wins, the rest are tags
        ("purchase_orders", (None, ["purchase_orders"])),
    ],
)
def test_folder_hints(folder: str, expected: tuple[str | None, list[str]]) -> None:
    assert folder_hints(folder, load_schemas()) == expected


@pytest.mark.parametrize("folder", ["kontoauszug", "Rechnungen/acme", "rechnung/acme", "Kassenbon"])
def test_cards_name_folders_in_other_languages(folder: str) -> None:
    doc_type, _ = folder_hints(folder, load_schemas())
    assert doc_type == {"kontoauszug": "bank_statement", "kassenbon": "receipt"}.get(folder.lower(), "invoice")


def test_a_workspace_schema_makes_its_folder_a_type(tmp_path: Path) -> None:
    shutil.copy(PURCHASE_ORDER_CARD, tmp_path / PURCHASE_ORDER_CARD.name)
    schemas = load_schemas(tmp_path)
    assert folder_hints("purchase_orders/acme", schemas) == ("purchase_order", ["acme"])
    assert folder_hints("Bestellung", schemas) == ("purchase_order", [])


# ---------------------------------------------------------------- claiming


def test_claim_renames_into_processing_and_queues_with_the_sha256(
    ws: Workspace, store: Store, journal: Journal
) -> None:
    path = _drop(ws, "invoices/scan.pdf", b"bytes of a scan")
    row = claim(entry_for(path, ws.intake), ws, store, journal)
    assert row is not None
    assert not path.exists()
    assert (ws.root / row.path).read_bytes() == b"bytes of a scan"
    assert row.path == "processing/scan.pdf"
    assert (row.state, row.name, row.folder) == (QUEUED, "scan.pdf", "invoices")
    assert row.sha256 == hashlib.sha256(b"bytes of a scan").hexdigest()


def test_the_journal_row_is_committed_before_the_rename(
    ws: Workspace, store: Store, journal: Journal, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _drop(ws, "scan.pdf")
    seen: list[tuple[str, str | None]] = []
    real_move = claims_module.move_to

    def watching_move(src: Path, dst: Path) -> Path:
        other = Journal(Store.for_workspace(ws.root))  # another connection sees only committed rows
        seen.extend((r.state, r.target) for r in other.rows())
        other.store.close()
        return real_move(src, dst)

    monkeypatch.setattr(claims_module, "move_to", watching_move)
    claim(entry_for(path, ws.intake), ws, store, journal)
    assert seen == [("claiming", "processing/scan.pdf")]


def test_a_file_that_vanished_before_the_rename_leaves_no_row(ws: Workspace, store: Store, journal: Journal) -> None:
    path = _drop(ws, "scan.pdf")
    entry = entry_for(path, ws.intake)
    path.unlink()  # taken by someone else between the scan and the claim
    assert claim(entry, ws, store, journal) is None
    assert journal.rows() == []


def test_two_files_of_one_name_never_share_a_processing_name(ws: Workspace, store: Store, journal: Journal) -> None:
    first = claim(entry_for(_drop(ws, "scan.pdf", b"one"), ws.intake), ws, store, journal)
    second = claim(entry_for(_drop(ws, "a/scan.pdf", b"two"), ws.intake), ws, store, journal)
    assert first and second and first.path != second.path
    assert (ws.root / first.path).read_bytes() == b"one"
    assert (ws.root / second.path).read_bytes() == b"two"


def test_a_name_still_used_by_an_unfinished_move_is_not_reused(ws: Workspace, store: Store, journal: Journal) -> None:
    # A row deciding to move processing/scan.pdf (crashed before the move was recorded) still owns
    # that name even after the file left: a new claim must not take it.
    journal.begin(name="scan.pdf", state="finishing", path="processing/scan.pdf", target="done/scan.pdf")
    row = claim(entry_for(_drop(ws, "scan.pdf", b"new"), ws.intake), ws, store, journal)
    assert row is not None and row.path != "processing/scan.pdf"


def test_a_symlink_is_set_aside_unfollowed_with_a_note(
    ws: Workspace, store: Store, journal: Journal, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.pdf"
    secret.write_bytes(b"private")
    os.symlink(secret, ws.intake / "link.pdf")
    row = claim(entry_for(ws.intake / "link.pdf", ws.intake), ws, store, journal)
    assert row is not None and row.state == FAILED and row.path == "failed/link.pdf"
    assert (ws.failed / "link.pdf").is_symlink()  # the link itself moved, its target untouched
    assert secret.read_bytes() == b"private"
    note = json.loads((ws.failed / "link.pdf.error.json").read_text(encoding="utf-8"))
    assert note["code"] == "not_a_regular_file" and note["stage"] == "intake"
    assert "symbolic link" in note["reason"] and str(secret) in note["reason"]
    assert note["hint"] and note["attempts"] == 1
    assert store.all() == []  # never read, so there is no document to store


def test_a_fifo_is_set_aside_without_being_opened(ws: Workspace, store: Store, journal: Journal) -> None:
    os.mkfifo(ws.intake / "pipe.pdf")
    done = threading.Event()
    result: list[object] = []

    def run() -> None:  # opening a FIFO for reading would block forever: run it where a hang shows
        result.append(claim(entry_for(ws.intake / "pipe.pdf", ws.intake), ws, store, journal))
        done.set()

    threading.Thread(target=run, daemon=True).start()
    assert done.wait(10), "the FIFO was opened"
    note = json.loads((ws.failed / "pipe.pdf.error.json").read_text(encoding="utf-8"))
    assert "named pipe" in note["reason"]
    assert not (ws.intake / "pipe.pdf").exists()


# ---------------------------------------------------------------- the poller


def test_the_poller_claims_stable_files_and_sets_special_ones_aside_at_once(
    ws: Workspace, store: Store, journal: Journal
) -> None:
    clock = Clock()
    poller = IntakePoller(ws, store, journal, Stability(stable_s=2.0, clock=clock))
    _drop(ws, "a.pdf", b"a")
    os.mkfifo(ws.intake / "pipe")
    assert [r.name for r in poller.poll()] == ["pipe"]  # special files need no wait
    clock.now += 1
    _drop(ws, "b.pdf", b"b")
    assert poller.poll() == []
    clock.now += 1.5
    assert [r.name for r in poller.poll()] == ["a.pdf"]
    clock.now += 1.0
    assert [r.name for r in poller.poll()] == ["b.pdf"]
    assert sorted(p.name for p in ws.processing.iterdir()) == ["a.pdf", "b.pdf"]
    assert poller.poll() == []


def test_a_workspace_lock_is_exclusive_and_released(ws: Workspace) -> None:
    with workspace_lock(ws, "claim") as held:
        assert held
        with workspace_lock(ws, "claim", wait=False) as again:
            assert not again
    with workspace_lock(ws, "claim", wait=False) as after:
        assert after
