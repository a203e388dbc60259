"""One claimed document to done/ or failed/ (`run_document`), duplicates, retries, and recovery
after a crash at each step (no Prefect).

The documents are payload: the replay engine gives their recorded reading (tests/replay.py), but
for the one read as the type its intake sub-folder names, which the real engine reads.

A crash is simulated by raising a BaseException at a chosen point (as kill -9 would stop the
process there); a fresh journal and store then recover, and every file must end exactly once in
done/ or failed/ and its bytes exactly once in the store.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ledgerlens.pipeline.books.store import Store
from ledgerlens.pipeline.chain import Context
from ledgerlens.pipeline.errors import DocumentError
from ledgerlens.pipeline.intake import claims as claims_module
from ledgerlens.pipeline.intake import record as record_module
from ledgerlens.pipeline.intake.claims import claim, recover_claims, recover_processing
from ledgerlens.pipeline.intake.jobs import MAX_STARTS, RETRY, run_document
from ledgerlens.pipeline.intake.journal import DONE, DUPLICATE, FAILED, FINISHING, QUEUED, Journal
from ledgerlens.pipeline.intake.watcher import entry_for
from ledgerlens.pipeline.intake.workspace import Workspace

RECEIPT = "receipt_gb_cafe.pdf"


class Crash(BaseException):
    """The process stops here (not an Exception: nothing may catch it on the way out)."""


def _drop(ws: Workspace, rel: str, source: Path | bytes) -> Path:
    path = ws.intake / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(source, Path):
        shutil.copy(source, path)
    else:
        path.write_bytes(source)
    return path


def _claim(ws: Workspace, store: Store, journal: Journal, rel: str, source: Path | bytes) -> int:
    row = claim(entry_for(_drop(ws, rel, source), ws.intake), ws, store, journal)
    assert row is not None
    return row.id


def _restart(ws: Workspace) -> tuple[Store, Journal]:
    """What a new process sees: a fresh connection to the same database."""
    store = Store.for_workspace(ws.root)
    return store, Journal(store)


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.endswith(".json"))


def _crash_at(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> None:
    def crash(*args: Any, **kwargs: Any) -> None:
        raise Crash(name)

    monkeypatch.setattr(module, name, crash)


def _crashed(monkeypatch: pytest.MonkeyPatch, module: Any, name: str, action: Callable[[], object]) -> None:
    """Run `action` with `module.name` replaced by a crash; the process 'dies' there."""
    _crash_at(monkeypatch, module, name)
    with pytest.raises(Crash):
        action()
    monkeypatch.undo()


def _transient_extract(stage: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    if stage == "extract":
        raise DocumentError("server_timeout", "The model server did not answer in time.", stage=stage, transient=True)
    return fn(*args, **kwargs)


# ---------------------------------------------------------------- one document


def test_a_good_document_is_stored_then_moved_to_done(
    ws: Workspace, store: Store, journal: Journal, replay_context: Context, samples: Path
) -> None:
    row_id = _claim(ws, store, journal, RECEIPT, samples / RECEIPT)
    outcome = run_document(row_id, ws, replay_context, store, journal)
    assert (outcome.state, outcome.status, outcome.path, outcome.tries) == (DONE, "ok", f"done/{RECEIPT}", 1)
    assert _files(ws.done) == [RECEIPT] and list(ws.processing.iterdir()) == []
    (doc,) = store.all()
    assert doc.id == outcome.document_id and doc.result.source_path == f"done/{RECEIPT}"
    assert doc.result.provenance["intake"] == {"folder": "", "doc_type": None, "tags": [], "tries": 1}
    assert journal.get(row_id).state == DONE


def test_the_sub_folder_chooses_the_type_and_the_tags(
    ws: Workspace, store: Store, journal: Journal, context: Context, samples: Path
) -> None:
    row_id = _claim(ws, store, journal, "invoices/acme/" + RECEIPT, samples / RECEIPT)
    run_document(row_id, ws, context, store, journal)  # the real engine reads the receipt as an invoice
    doc = store.all()[0].result
    assert doc.doc_type == "invoice"  # the classifier says receipt; the user's folder says invoice
    assert doc.provenance["intake"]["tags"] == ["acme"]
    assert doc.provenance["intake"]["classified_as"] == "receipt"  # what the classifier thought is kept


def test_a_corrupt_document_fails_at_once_with_a_note(
    ws: Workspace, store: Store, journal: Journal, replay_context: Context
) -> None:
    row_id = _claim(ws, store, journal, "broken.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\n")
    outcome = run_document(row_id, ws, replay_context, store, journal)
    assert outcome.state == FAILED and outcome.tries == 1 and outcome.reason
    note = json.loads((ws.failed / "broken.pdf.error.json").read_text(encoding="utf-8"))
    assert note["stage"] == "load" and note["attempts"] == 1 and note["transient"] is False
    assert note["reason"] == outcome.reason
    assert store.all()[0].result.status == "failed"


def test_a_transient_failure_stays_queued_until_its_tries_are_spent(
    ws: Workspace, store: Store, journal: Journal, replay_context: Context, samples: Path
) -> None:
    row_id = _claim(ws, store, journal, RECEIPT, samples / RECEIPT)
    for attempt in (1, 2):
        outcome = run_document(row_id, ws, replay_context, store, journal, max_tries=3, runner=_transient_extract)
        assert (outcome.state, outcome.tries) == (RETRY, attempt)
        assert (ws.processing / RECEIPT).exists() and store.all() == []
    outcome = run_document(row_id, ws, replay_context, store, journal, max_tries=3, runner=_transient_extract)
    assert (outcome.state, outcome.tries) == (FAILED, 3)
    note = json.loads((ws.failed / f"{RECEIPT}.error.json").read_text(encoding="utf-8"))
    assert note["code"] == "server_timeout" and note["transient"] is True and note["attempts"] == 3


def test_a_transient_failure_that_passes_on_a_retry_is_booked_once(
    ws: Workspace, store: Store, journal: Journal, replay_context: Context, samples: Path
) -> None:
    row_id = _claim(ws, store, journal, RECEIPT, samples / RECEIPT)
    assert run_document(row_id, ws, replay_context, store, journal, runner=_transient_extract).state == RETRY
    outcome = run_document(row_id, ws, replay_context, store, journal)
    assert (outcome.state, outcome.tries) == (DONE, 2)
    (doc,) = store.all()
    assert doc.attempts == 2


# ---------------------------------------------------------------- duplicates


def test_a_second_copy_of_booked_bytes_is_a_duplicate_not_a_second_booking(
    ws: Workspace, store: Store, journal: Journal, replay_context: Context, samples: Path
) -> None:
    first = _claim(ws, store, journal, RECEIPT, samples / RECEIPT)
    run_document(first, ws, replay_context, store, journal)
    second = _claim(ws, store, journal, "copy-from-mail.pdf", samples / RECEIPT)
    outcome = run_document(second, ws, replay_context, store, journal)
    assert outcome.state == DUPLICATE and outcome.path == "done/copy-from-mail.pdf"
    (doc,) = store.all()
    assert doc.attempts == 1 and doc.result.source_path == f"done/{RECEIPT}"  # the booking is untouched
    note = json.loads((ws.done / "copy-from-mail.pdf.duplicate.json").read_text(encoding="utf-8"))
    assert note["duplicate_of"] == {"id": doc.id, "file": RECEIPT, "path": f"done/{RECEIPT}"}
    assert note["sha256"] == doc.result.sha256 and "not booked again" in note["note"]
    assert _files(ws.done) == sorted([RECEIPT, "copy-from-mail.pdf"])


def test_a_copy_of_failed_bytes_is_tried_again(
    ws: Workspace, store: Store, journal: Journal, replay_context: Context
) -> None:
    broken = b"%PDF-1.7 cut off"
    run_document(_claim(ws, store, journal, "a.pdf", broken), ws, replay_context, store, journal)
    outcome = run_document(_claim(ws, store, journal, "a.pdf", broken), ws, replay_context, store, journal)
    assert outcome.state == FAILED
    (doc,) = store.all()
    assert doc.attempts == 2
    tag = hashlib.sha256(broken).hexdigest()[:8]
    assert _files(ws.failed) == sorted(["a.pdf", f"a.{tag}.pdf"])


# ---------------------------------------------------------------- crash recovery


def test_crash_before_the_claim_rename_leaves_the_file_in_intake(
    ws: Workspace, store: Store, journal: Journal, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _drop(ws, "scan.pdf", b"x")
    _crashed(monkeypatch, claims_module, "move_to", lambda: claim(entry_for(path, ws.intake), ws, store, journal))
    store2, journal2 = _restart(ws)
    recover_claims(ws, store2, journal2)
    assert path.exists() and journal2.rows() == []
    store2.close()


def test_crash_after_the_claim_rename_resumes_the_claim(
    ws: Workspace, store: Store, journal: Journal, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _drop(ws, "scan.pdf", b"x")
    _crashed(monkeypatch, claims_module, "file_sha256", lambda: claim(entry_for(path, ws.intake), ws, store, journal))
    store2, journal2 = _restart(ws)
    recover_claims(ws, store2, journal2)
    (row,) = journal2.rows()
    assert (row.state, row.path, row.sha256) == (QUEUED, "processing/scan.pdf", hashlib.sha256(b"x").hexdigest())
    store2.close()


@pytest.mark.parametrize(
    ("module", "point"),
    [
        (record_module, "move_to"),  # the result and destination are committed, the file has not moved
        (record_module, "_write_note"),  # moved, no note yet
    ],
)
def test_crash_while_finishing_is_completed_on_restart(
    ws: Workspace,
    store: Store,
    journal: Journal,
    replay_context: Context,
    monkeypatch: pytest.MonkeyPatch,
    module: Any,
    point: str,
) -> None:
    row_id = _claim(ws, store, journal, "broken.pdf", b"not a pdf at all")
    _crashed(monkeypatch, module, point, lambda: run_document(row_id, ws, replay_context, store, journal))
    assert journal.get(row_id).state == FINISHING
    store2, journal2 = _restart(ws)
    assert recover_processing(ws, store2, journal2) == []
    row = journal2.get(row_id)
    assert (row.state, row.path) == (FAILED, "failed/broken.pdf")
    assert _files(ws.failed) == ["broken.pdf"] and list(ws.processing.iterdir()) == []
    note = json.loads((ws.failed / "broken.pdf.error.json").read_text(encoding="utf-8"))
    assert note["code"] and note["attempts"] == 1
    assert len(store2.all()) == 1
    store2.close()


def test_crash_inside_the_decision_stores_nothing(
    ws: Workspace, store: Store, journal: Journal, replay_context: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The result row and the journal's decision are one transaction: neither without the other.
    row_id = _claim(ws, store, journal, "broken.pdf", b"not a pdf at all")
    _crashed(monkeypatch, Journal, "decide", lambda: run_document(row_id, ws, replay_context, store, journal))
    store2, journal2 = _restart(ws)
    assert store2.all() == []
    assert [r.id for r in recover_processing(ws, store2, journal2)] == [row_id]
    assert run_document(row_id, ws, replay_context, store2, journal2).state == FAILED
    assert len(store2.all()) == 1 and journal2.get(row_id).tries == 2
    store2.close()


def test_crash_during_processing_runs_the_document_again(
    ws: Workspace, store: Store, journal: Journal, replay_context: Context, samples: Path
) -> None:
    row_id = _claim(ws, store, journal, RECEIPT, samples / RECEIPT)
    journal.start_try(row_id)  # a try began, then the process died
    store2, journal2 = _restart(ws)
    assert [r.id for r in recover_processing(ws, store2, journal2)] == [row_id]
    outcome = run_document(row_id, ws, replay_context, store2, journal2)
    assert (outcome.state, outcome.tries) == (DONE, 2)
    assert store2.all()[0].attempts == 2
    store2.close()


def test_a_document_that_kills_the_process_every_time_is_failed_in_the_end(
    ws: Workspace, store: Store, journal: Journal, replay_context: Context, samples: Path
) -> None:
    row_id = _claim(ws, store, journal, RECEIPT, samples / RECEIPT)
    for _ in range(MAX_STARTS):
        journal.start_try(row_id)  # each start died
    outcome = run_document(row_id, ws, replay_context, store, journal)
    assert outcome.state == FAILED
    note = json.loads((ws.failed / f"{RECEIPT}.error.json").read_text(encoding="utf-8"))
    assert note["code"] == "interrupted" and f"started {MAX_STARTS} times" in note["reason"]


def test_a_file_left_in_processing_without_a_row_is_adopted(
    ws: Workspace, store: Store, journal: Journal, replay_context: Context, samples: Path
) -> None:
    shutil.copy(samples / RECEIPT, ws.processing / RECEIPT)  # from an older version, or put there by hand
    (row,) = recover_processing(ws, store, journal)
    assert (row.state, row.path) == (QUEUED, f"processing/{RECEIPT}")
    assert run_document(row.id, ws, replay_context, store, journal).state == DONE
    assert recover_processing(ws, store, journal) == []


def test_a_file_removed_from_processing_by_hand_is_marked_gone(
    ws: Workspace, store: Store, journal: Journal, replay_context: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    row_id = _claim(ws, store, journal, "broken.pdf", b"junk")
    _crashed(monkeypatch, record_module, "move_to", lambda: run_document(row_id, ws, replay_context, store, journal))
    (ws.processing / "broken.pdf").unlink()
    recover_processing(ws, store, journal)
    row = journal.get(row_id)
    assert row.state == "gone" and "removed by hand" in (row.reason or "")


def test_a_file_put_at_the_target_by_hand_is_never_overwritten(
    ws: Workspace, store: Store, journal: Journal, replay_context: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    row_id = _claim(ws, store, journal, "broken.pdf", b"junk")
    _crashed(monkeypatch, record_module, "move_to", lambda: run_document(row_id, ws, replay_context, store, journal))
    (ws.failed / "broken.pdf").write_bytes(b"someone else's file")
    recover_processing(ws, store, journal)
    assert (ws.failed / "broken.pdf").read_bytes() == b"someone else's file"
    row = journal.get(row_id)
    assert row.state == FAILED and row.path != "failed/broken.pdf"
    assert (ws.root / row.path).read_bytes() == b"junk"
