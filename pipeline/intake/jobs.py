"""One claimed document, from processing/ to done/ or failed/: `run_document`.

Each try is counted in the journal before it starts, so a document that brings the process down
every time (a decompression bomb, a crashing library) is failed after MAX_STARTS starts instead
of looping forever. Bytes already booked are a duplicate, never booked twice. A transient
failure (a model server timeout, out of memory) is handed back for a retry while tries remain;
a deterministic one (a corrupt file) is recorded at once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ledgerlens.pipeline.books.store import Store
from ledgerlens.pipeline.books.vendors import StoreVendorMemory, workspace_key
from ledgerlens.pipeline.chain import Context, Runner, direct, failed_result, process_file
from ledgerlens.pipeline.config import Config
from ledgerlens.pipeline.errors import DocumentError
from ledgerlens.pipeline.intake.journal import DUPLICATE, FAILED, QUEUED, IntakeRow, Journal
from ledgerlens.pipeline.intake.record import finish_duplicate, finish_result
from ledgerlens.pipeline.intake.watcher import folder_hints
from ledgerlens.pipeline.intake.workspace import Workspace
from ledgerlens.pipeline.types import Classification, DocumentResult, Status

RETRY = "retry"  # the outcome of a transient failure with tries left: the file stays queued
MAX_STARTS = 5


@dataclass(frozen=True)
class Outcome:
    """What became of one document, small enough to pass between processes."""

    row_id: int
    name: str
    state: str  # done, failed, duplicate, or retry
    tries: int
    status: str | None = None  # ok, needs_review, failed (the stored result's status)
    reason: str | None = None
    path: str | None = None
    pages: int = 0
    document_id: int | None = None

    @property
    def failed(self) -> bool:
        return self.state == FAILED

    @property
    def source_name(self) -> str:  # as on a DocumentResult, for progress displays
        return self.name

    @property
    def page_count(self) -> int:
        return self.pages


def worker_context(ws: Workspace, config: Config, store: Store) -> Context:
    """A worker's pipeline context for a workspace: its schemas, the engine, and its vendor memory."""
    return Context.create(config, ws.schemas_dir, memory=StoreVendorMemory(store, workspace_key(ws.root)))


def run_document(
    row_id: int,
    ws: Workspace,
    ctx: Context,
    store: Store,
    journal: Journal,
    *,
    max_tries: int = 3,
    runner: Runner = direct,
) -> Outcome:
    row = journal.start_try(row_id)
    if row.state != QUEUED:  # finished by an earlier run: nothing to do
        return outcome_of(row, store)
    if row.tries > max(MAX_STARTS, max_tries):
        return outcome_of(finish_result(_interrupted(row, ws, ctx), row, ws, store, journal), store)
    booked = store.get_by_sha(row.sha256) if row.sha256 else None
    if booked is not None and booked.result.status is not Status.FAILED:
        return outcome_of(finish_duplicate(row, booked, ws, store, journal), store)
    result = _process(row, ws, ctx, runner)
    if is_transient(result) and row.tries < max_tries:
        return Outcome(row.id, row.name, RETRY, row.tries, str(result.status), result.failure_reason)
    return outcome_of(finish_result(result, row, ws, store, journal), store, result)


def is_transient(result: DocumentResult) -> bool:
    return result.status is Status.FAILED and bool(result.provenance.get("error", {}).get("transient"))


def _process(row: IntakeRow, ws: Workspace, ctx: Context, runner: Runner) -> DocumentResult:
    doc_type, tags = folder_hints(row.folder, ctx.schemas)
    intake: dict[str, Any] = {"folder": row.folder, "doc_type": doc_type, "tags": tags, "tries": row.tries}
    if doc_type is not None:
        runner = with_doc_type(runner, doc_type, intake)
    result = process_file(ws.root / row.path, ctx, source_name=row.name, runner=runner)
    result.provenance["intake"] = intake
    return result


def with_doc_type(runner: Runner, doc_type: str, notes: dict[str, Any]) -> Runner:
    """The classify stage as usual, then the type the user chose by the intake sub-folder.

    What the classifier said is kept in `notes["classified_as"]`.
    """

    def run(stage: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        out = runner(stage, fn, *args, **kwargs)
        if stage == "classify" and isinstance(out, Classification):
            notes["classified_as"] = out.doc_type
            return dataclasses.replace(out, doc_type=doc_type, confidence=1.0)
        return out

    return run


def _interrupted(row: IntakeRow, ws: Workspace, ctx: Context) -> DocumentResult:
    error = DocumentError(
        "interrupted",
        f"Processing was started {row.tries - 1} times and never finished: the process was stopped or "
        "crashed while reading this document each time.",
        stage="intake",
        hint="The file may be too large or malformed for this machine; check it, then run `ledgerlens retry`.",
    )
    return failed_result(ws.root / row.path, row.name, error, None, ctx.provenance(None), {})


def outcome_of(row: IntakeRow, store: Store, result: DocumentResult | None = None) -> Outcome:
    """The outcome a journal row records (its state is `queued` while it has none yet)."""
    doc_id = row.duplicate_of if row.state == DUPLICATE else row.document_id
    if result is None and doc_id is not None:
        stored = store.get(str(doc_id))
        result = stored.result if stored else None
    return Outcome(
        row_id=row.id,
        name=row.name,
        state=row.state,
        tries=row.tries,
        status=str(result.status) if result else None,
        reason=row.reason if row.state != "done" else None,
        path=row.path,
        pages=result.page_count if result and row.state != DUPLICATE else 0,
        document_id=doc_id,
    )
