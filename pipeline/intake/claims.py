"""Taking files out of intake/, and picking up after a crash.

A claim is a rename into processing/, so two runs can never take the same file, and the journal
row naming both paths is committed before the rename. Only then are the bytes read, to hash
them: their sha256 is the document's identity. Symlinks, FIFOs, sockets and devices are never
opened or followed: they go to failed/ with a note saying why.

Claiming runs under the workspace's `claim` lock; recovering processing/ runs under its
`process` lock, held by the one run that processes documents (see flows/).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path

from ledgerlens.pipeline.books.store import Store
from ledgerlens.pipeline.intake.journal import CLAIMING, FAILED, FINISHING, QUEUED, IntakeRow, Journal
from ledgerlens.pipeline.intake.record import complete, decide_and_complete
from ledgerlens.pipeline.intake.watcher import FILE, Entry, Stability, scan
from ledgerlens.pipeline.intake.workspace import ERROR_SUFFIX, Workspace, free_path, move_to, name_prefix
from ledgerlens.pipeline.read.load import file_sha256

CLAIM_LOCK = "claim"
PROCESS_LOCK = "process"

_WHAT = {
    "symlink": "a symbolic link",
    "fifo": "a named pipe (FIFO)",
    "socket": "a socket",
    "device": "a device file",
    "other": "not a regular file",
}


def claim(entry: Entry, ws: Workspace, store: Store, journal: Journal) -> IntakeRow | None:
    """Claim one entry from intake/; None when it vanished before the rename."""
    if entry.kind != FILE:
        return set_aside(entry, ws, store, journal)
    in_use = journal.paths_in_use(_rel(name_prefix(ws.processing, entry.path.name), ws))
    target = free_path(ws.processing, entry.path.name, secrets.token_hex(4), {ws.root / p for p in in_use})
    row = journal.begin(
        name=entry.path.name, folder=entry.folder, kind=FILE, path=_rel(entry.path, ws), target=_rel(target, ws)
    )
    try:
        move_to(entry.path, target)
    except FileNotFoundError:  # taken away between the scan and now
        journal.drop(row.id)
        return None
    return hash_claimed(row, ws, store, journal)


def hash_claimed(row: IntakeRow, ws: Workspace, store: Store, journal: Journal) -> IntakeRow:
    path = ws.root / (row.target or row.path)
    try:
        sha = file_sha256(path)
    except OSError as e:  # no read permission, an I/O error on a share
        return _fail(
            row,
            ws,
            store,
            journal,
            "unreadable",
            f"The file could not be read: {e.strerror or e}.",
            "Check the file's permissions and that the share is reachable, then run `ledgerlens retry`.",
            path=_rel(path, ws),
        )
    return journal.claimed(row.id, sha)


def set_aside(entry: Entry, ws: Workspace, store: Store, journal: Journal) -> IntakeRow:
    """A link, pipe or device in intake/: to failed/ unopened, with the reason."""
    what = _WHAT.get(entry.kind, _WHAT["other"])
    if entry.kind == "symlink":
        with contextlib.suppress(OSError):
            what += f" (to {os.readlink(entry.path)})"
    row = journal.begin(name=entry.path.name, folder=entry.folder, kind=entry.kind, path=_rel(entry.path, ws))
    reason = f"{entry.rel} is {what}. It was not opened or followed, so nothing outside the workspace is read."
    return _fail(
        row, ws, store, journal, "not_a_regular_file", reason, "Put a copy of the document itself into intake/."
    )


def _fail(
    row: IntakeRow, ws: Workspace, store: Store, journal: Journal, code: str, reason: str, hint: str, **fields: str
) -> IntakeRow:
    """A file that fails before any stage runs: to failed/ with a note, no result in the store."""
    return decide_and_complete(
        row, FAILED, ws.failed, ws, store, journal, stage="intake", code=code, reason=reason, hint=hint, **fields
    )


class IntakePoller:
    """One look at intake/ per `poll()`: special files are set aside at once, regular files are
    claimed once stable. Call with the workspace's `claim` lock held."""

    def __init__(self, ws: Workspace, store: Store, journal: Journal, stability: Stability) -> None:
        self.ws, self.store, self.journal, self.stability = ws, store, journal, stability

    def poll(self) -> list[IntakeRow]:
        entries = scan(self.ws.intake)
        special = [e for e in entries if e.kind != FILE]
        stable = self.stability.stable(e for e in entries if e.kind == FILE)
        taken: list[IntakeRow] = []
        for entry in special + stable:
            row = claim(entry, self.ws, self.store, self.journal)
            self.stability.forget(entry)
            if row is not None:
                taken.append(row)
        return taken


def recover_claims(ws: Workspace, store: Store, journal: Journal) -> None:
    """Claims cut short by a crash: finish those whose rename happened, forget the others."""
    for row in journal.rows([CLAIMING]):
        if row.target and os.path.lexists(ws.root / row.target):
            hash_claimed(row, ws, store, journal)
        elif os.path.lexists(ws.root / row.path):
            journal.drop(row.id)  # still in intake/: claimed again once seen stable
        elif row.target:
            journal.gone(row.id, f"{row.path} was removed from intake/ before it was claimed")
        else:  # a special file whose decision was never written: the scan sees it again
            journal.drop(row.id)


def recover_processing(ws: Workspace, store: Store, journal: Journal) -> list[IntakeRow]:
    """Moves cut short by a crash are finished; files nobody knows in processing/ are queued.

    Returns the rows left to run. Call with the `process` lock held.
    """
    for row in journal.rows([FINISHING]):
        complete(row.id, ws, store, journal)
    known = journal.paths_in_use()
    for path in sorted(ws.processing.iterdir()) if ws.processing.is_dir() else []:
        if path.name.startswith(".") or _rel(path, ws) in known or not path.is_file() or path.is_symlink():
            continue
        row = journal.begin(name=path.name, folder="", kind=FILE, path=_rel(path, ws), target=_rel(path, ws))
        hash_claimed(row, ws, store, journal)
    return journal.rows([QUEUED])


def send_back(path: Path, ws: Workspace, journal: Journal) -> Path:
    """A failed file back into intake/ (the sub-folder it came from), for another try after a fix.

    Its error note is kept under failed/retried/. The journal row records the destination before
    the move and is closed (`retried`) after it; the watcher claims the file as a new arrival.
    """
    row = journal.last_in_path(_rel(path, ws))
    if row is not None and row.state != FAILED:
        row = None
    target = free_path(ws.intake / (row.folder if row else ""), row.name if row else path.name, secrets.token_hex(4))
    if row is not None:
        journal.retarget(row.id, _rel(target, ws))
    move_to(path, target)
    note = Path(f"{path}{ERROR_SUFFIX}")
    if note.exists():
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        move_to(note, free_path(ws.failed / "retried", note.name, stamp))
    if row is not None:
        journal.retried(row.id, _rel(target, ws))
    return target


def finish_send_backs(ws: Workspace, journal: Journal) -> None:
    """Send-backs cut short after the move: close their rows."""
    for row in journal.rows([FAILED]):
        if row.target and os.path.lexists(ws.root / row.target) and not os.path.lexists(ws.root / row.path):
            journal.retried(row.id, row.target)


def _rel(path: Path, ws: Workspace) -> str:
    return path.relative_to(ws.root).as_posix()
