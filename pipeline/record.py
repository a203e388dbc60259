"""The last step of a document: its result in the store, then the file in done/ or failed/.

The store is written first: after a crash between the two steps the store already says where
the file belongs, and recovery only has to finish the move.
"""

from __future__ import annotations

from pathlib import Path

from .intake import Workspace, free_path, move_to, write_error_record
from .store import Store, StoredDocument
from .types import DocumentResult, Severity, Status


def record_result(result: DocumentResult, claimed: Path, ws: Workspace, store: Store) -> StoredDocument:
    folder = ws.failed if result.status is Status.FAILED else ws.done
    target = free_path(folder, result.source_name, result.sha256[:8])
    result.source_path = str(target.relative_to(ws.root))
    stored = store.get_by_sha(result.sha256) if store.save(result) else None
    assert stored is not None
    move_to(claimed, target)
    if result.status is Status.FAILED:
        write_error_record(target, {**error_record(result), "attempts": stored.attempts})
    return stored


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
