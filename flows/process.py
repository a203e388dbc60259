"""Prefect flow: process a set of documents of one workspace.

Thin by design. Each pipeline stage runs as a Prefect task wrapping exactly one `pipeline/`
function, named after the stage and the file ("ocr · invoice-42.pdf"), so the UI shows where a
document is and where it failed. The chain of stages itself lives in `pipeline.run`. A failed
document ends as a Failed `record` task whose state message is the reason; the flow run goes on
and completes with a summary.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledgerlens.pipeline.intake import Workspace, claim, list_inputs
from ledgerlens.pipeline.record import record_result
from ledgerlens.pipeline.run import Context, Runner, process_file
from ledgerlens.pipeline.store import Store
from ledgerlens.pipeline.types import DocumentResult, Status
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.states import Completed, Failed, State


@task(name="stage", cache_policy=NO_CACHE, persist_result=False)
def run_stage(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """One pipeline stage. Document errors propagate: the task run is Failed with the reason."""
    return fn(*args, **kwargs)


def prefect_runner(file_name: str) -> Runner:
    def runner(stage: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return run_stage.with_options(name=stage, task_run_name=f"{stage} · {file_name}")(fn, *args, **kwargs)

    return runner


@task(name="record", cache_policy=NO_CACHE, persist_result=False)
def record_task(result: DocumentResult, claimed: Path, workspace: Workspace, store: Store) -> State:
    stored = record_result(result, claimed, workspace, store)
    summary = {"id": stored.id, "file": result.source_name, "status": str(result.status), "path": result.source_path}
    if result.status is Status.FAILED:
        return Failed(message=f"{result.source_name}: {result.failure_reason}", data=summary)
    return Completed(message=f"{result.source_name}: {result.status}", data=summary)


# Someone watching the run (the CLI's progress bar) gets each result as it is recorded.
Listener = Callable[[DocumentResult, int], None]
_listeners: list[Listener] = []


@contextmanager
def listening(listener: Listener) -> Iterator[None]:
    _listeners.append(listener)
    try:
        yield
    finally:
        _listeners.remove(listener)


@dataclass
class Summary:
    processed: int = 0
    ok: int = 0
    needs_review: int = 0
    failed: int = 0
    pages: int = 0

    def add(self, result: DocumentResult) -> None:
        self.processed += 1
        self.pages += result.page_count
        setattr(self, str(result.status), getattr(self, str(result.status)) + 1)


@flow(name="process-documents", flow_run_name="process {label}", validate_parameters=False)
def process_documents(paths: list[str], workspace: str, label: str = "documents") -> dict[str, int]:
    """Claim each file (intake -> processing), run the stages, record the result and move the file."""
    ws = Workspace(Path(workspace))
    config = ws.config()
    ctx = Context.create(config, ws.schemas_dir)
    store = Store.for_workspace(ws.root, config.store.url)
    logger = get_run_logger()
    summary = Summary()
    try:
        for raw in paths:
            original = Path(raw)
            claimed = claim(original, ws, tag=original.stem[:40])
            result = process_file(claimed, ctx, source_name=original.name, runner=prefect_runner(original.name))
            state = record_task.with_options(task_run_name=f"record · {original.name}")(
                result, claimed, ws, store, return_state=True
            )
            summary.add(result)
            if state.is_failed():
                logger.warning("%s failed: %s", original.name, result.failure_reason)
            for listener in list(_listeners):
                listener(result, summary.processed)
    finally:
        store.close()
    return vars(summary)


def process_workspace(ws: Workspace, folder: Path | None = None) -> dict[str, int]:
    """Process every file waiting in the workspace's intake (or a sub-folder of it) once."""
    files = [str(p) for p in list_inputs(folder or ws.intake)]
    label = f"{len(files)} document{'s' if len(files) != 1 else ''}"
    return process_documents(files, str(ws.root), label=label)
