"""The last step of a document: its result in the store, then the file in done/ or failed/.

The store is written first: after a crash between the two steps the store already says where
the file belongs, and recovery only has to finish the move. An XML e-invoice gets its readable
page (and the PDFs it carries) beside it in done/ after the move (`check/einvoice/view.py`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ledgerlens.pipeline.books.store import Store, StoredDocument
from ledgerlens.pipeline.check.einvoice import EInvoiceXmlError
from ledgerlens.pipeline.check.einvoice.view import companions, view_path
from ledgerlens.pipeline.intake.journal import DONE, DUPLICATE, FAILED, FINISHING, IntakeRow, Journal
from ledgerlens.pipeline.intake.workspace import (
    DUPLICATE_SUFFIX,
    Workspace,
    free_path,
    move_to,
    name_prefix,
    workspace_lock,
    write_bytes,
    write_error_record,
    write_note,
)
from ledgerlens.pipeline.types import DocumentResult, Severity, Status
from sqlalchemy.orm import Session


def record_result(result: DocumentResult, claimed: Path, ws: Workspace, store: Store) -> StoredDocument:
    folder = ws.failed if result.status is Status.FAILED else ws.done
    target = free_path(folder, result.source_name, result.sha256[:8])
    result.source_path = str(target.relative_to(ws.root))
    stored = store.get_by_sha(result.sha256) if store.save(result) else None
    assert stored is not None
    move_to(claimed, target)
    if result.status is Status.FAILED:
        write_error_record(target, {**error_record(result), "attempts": stored.attempts})
    else:
        write_companions(target, result)
    return stored


def write_companions(path: Path, result: DocumentResult) -> list[Path]:
    """Beside an XML e-invoice in done/: `<name>.view.html` and `<name>.attachment-<n>.pdf`.
    Written again whole when recovery repeats the step; nothing for other documents."""
    if view_path(result.source_path, result.provenance) is None:
        return []
    try:
        files = companions(path.read_bytes(), path.name, result.issues)
    except (OSError, EInvoiceXmlError):
        return []  # read a moment ago; a file changed by hand since keeps its stored data, without a page
    return [write_bytes(Path(f"{path}{suffix}"), data) for suffix, data in files.items()]


def error_record(result: DocumentResult) -> dict[str, object]:
    fatal = next((i for i in result.issues if i.severity is Severity.FATAL), None)
    error = result.provenance.get("error", {})
    return {
        "stage": fatal.stage if fatal else error.get("stage", "unknown"),
        "code": fatal.code if fatal else error.get("code", "failed"),
        "reason": fatal.message if fatal else "processing failed",
        "hint": error.get("hint", ""),
        "page": fatal.page if fatal else None,
        "transient": bool(error.get("transient", False)),
        "sha256": result.sha256,
    }


# ---------------------------------------------------------------- through the intake journal
# The same order, with the journal: the decision (result row + destination) is one transaction,
# then the move, then the note. `complete` is the second half alone; recovery calls it after a
# crash, so each of its steps may already have happened.

MOVES = "moves"  # the lock that makes choosing a free name and moving there one step


def finish_result(result: DocumentResult, row: IntakeRow, ws: Workspace, store: Store, journal: Journal) -> IntakeRow:
    """A processed document: its result and its destination committed together, then the move."""
    failed = result.status is Status.FAILED
    outcome = FAILED if failed else DONE
    fields: dict[str, Any] = {}
    if failed:
        note = error_record(result)
        fields = {k: note[k] for k in ("stage", "code", "reason", "hint")}
    with workspace_lock(ws, MOVES):
        target = _target(ws.failed if failed else ws.done, row.name, result.sha256[:8], ws, journal)
        result.source_path = _rel(target, ws)

        def decide(s: Session, doc_id: int) -> None:
            journal.decide(row.id, outcome, _rel(target, ws), s, document_id=doc_id, **fields)

        store.save(result, tries=max(row.tries, 1), on_save=decide)
        return _complete(journal.get(row.id), ws, store, journal)


def finish_duplicate(
    row: IntakeRow, booked: StoredDocument, ws: Workspace, store: Store, journal: Journal
) -> IntakeRow:
    """A second copy of booked bytes: to done/ with a note, never a second booking."""
    reason = (
        f"Same bytes as {booked.result.source_name} (document {booked.id}, {booked.result.source_path}), "
        "which is already booked: this copy was not booked again."
    )
    return decide_and_complete(row, DUPLICATE, ws.done, ws, store, journal, duplicate_of=booked.id, reason=reason)


def decide_and_complete(
    row: IntakeRow, outcome: str, folder: Path, ws: Workspace, store: Store, journal: Journal, **fields: Any
) -> IntakeRow:
    """Record where a file goes (and why), then move it there."""
    with workspace_lock(ws, MOVES):
        target = _target(folder, row.name, (row.sha256 or f"{row.id:08d}")[:8], ws, journal)
        return _complete(journal.decide(row.id, outcome, _rel(target, ws), **fields), ws, store, journal)


def complete(row_id: int, ws: Workspace, store: Store, journal: Journal) -> IntakeRow:
    with workspace_lock(ws, MOVES):
        return _complete(journal.get(row_id), ws, store, journal)


def _complete(row: IntakeRow, ws: Workspace, store: Store, journal: Journal) -> IntakeRow:
    assert row.state == FINISHING and row.target, (row.id, row.state)
    src, dst = ws.root / row.path, ws.root / row.target
    if os.path.lexists(src):
        if os.path.lexists(dst):  # a file was put there by hand since the decision: never overwrite it
            dst = _target(dst.parent, row.name, (row.sha256 or f"{row.id:08d}")[:8], ws, journal)
            row = journal.retarget(row.id, _rel(dst, ws))
        move_to(src, dst)
    elif not os.path.lexists(dst):
        return journal.gone(row.id, f"{row.path} was removed by hand before it could be moved to {row.target}")
    _write_note(row, dst, store)
    return journal.finished(row.id)


def _write_note(row: IntakeRow, path: Path, store: Store) -> None:
    if row.outcome == FAILED:
        stored = store.get(str(row.document_id)) if row.document_id is not None else None
        if stored is not None:
            write_error_record(path, {**error_record(stored.result), "attempts": stored.attempts})
        else:  # never opened (a link, a pipe) or unreadable: the journal holds the whole story
            note = {k: getattr(row, k) for k in ("stage", "code", "reason", "hint")}
            write_error_record(path, {**note, "attempts": max(row.tries, 1), "sha256": row.sha256})
    elif row.outcome == DONE:
        done = store.get(str(row.document_id)) if row.document_id is not None else None
        if done is not None:
            write_companions(path, done.result)
    elif row.outcome == DUPLICATE:
        booked = store.get(str(row.duplicate_of)) if row.duplicate_of is not None else None
        first = (
            {"id": booked.id, "file": booked.result.source_name, "path": booked.result.source_path} if booked else {}
        )
        write_note(path, DUPLICATE_SUFFIX, {"duplicate_of": first, "sha256": row.sha256, "note": row.reason})


def _target(folder: Path, name: str, tag: str, ws: Workspace, journal: Journal) -> Path:
    in_use = journal.paths_in_use(_rel(name_prefix(folder, name), ws))
    return free_path(folder, name, tag, reserved={ws.root / p for p in in_use})


def _rel(path: Path, ws: Workspace) -> str:
    return path.relative_to(ws.root).as_posix()
