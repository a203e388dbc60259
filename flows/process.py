"""Prefect flow: documents from a workspace's processing/ queue to done/ or failed/.

Structure, chosen by measurement (README, "Prefect overhead"): one flow run per batch and one task
run per document, named after the file, so the UI lists each document by name; a failed document
is a Failed task run whose message is the reason, and every document gets a markdown artifact with
its fields and issues. The stages run inside that task: a task per stage, or a flow run per
document, cost more than the 10 % of a one-page document's time the design allows.

Thin by design: the task wraps `pipeline.jobs.run_document`, the queue and its crash recovery are
`pipeline.claims` and `pipeline.journal`, and nothing here decides where a file goes.
Documents run in worker processes (pdfium, which reads PDFs, is not thread-safe), each with its
pipeline context built once: the task runs stay in this process, one thread per worker, and hand
the document to a warm worker process that imports no Prefect (`workers.py`); on Dask, the task
runs in the Dask worker.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledgerlens.pipeline.books.store import Store
from ledgerlens.pipeline.config import Config
from ledgerlens.pipeline.engines import ModelGate, check_engine, default_workers
from ledgerlens.pipeline.errors import ConfigError
from ledgerlens.pipeline.intake.claims import CLAIM_LOCK, PROCESS_LOCK, claim, recover_claims, recover_processing
from ledgerlens.pipeline.intake.jobs import RETRY, Outcome, outcome_of
from ledgerlens.pipeline.intake.journal import QUEUED, IntakeRow, Journal
from ledgerlens.pipeline.intake.watcher import entry_for
from ledgerlens.pipeline.intake.workspace import Workspace, list_inputs, lock_holder, workspace_lock
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import TaskRun
from prefect.futures import PrefectFuture, PrefectWrappedFuture, as_completed
from prefect.states import Completed, Failed, State
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.tasks import Task, exponential_backoff

from .artifacts import artifact_key, document_markdown
from .scale import ON_THIS_MACHINE, Scale, dask_task_runner, ensure_gates, one_api
from .workers import WorkerPool, run_here

RETRY_BACKOFF_S = 10.0  # first wait before retrying a transient failure; doubles each time


class TransientFailure(Exception):
    """A document failed in a way that may pass on a retry; it stays queued in processing/."""


def retry_if_transient(task: Task[..., Any], task_run: TaskRun, state: State[Any]) -> bool:
    return isinstance(state.data, TransientFailure)


@task(name="document", cache_policy=NO_CACHE, persist_result=False, retry_condition_fn=retry_if_transient)
def process_document(
    row_id: int,
    workspace: str,
    config: Config,
    max_tries: int,
    gates: dict[str, ModelGate] | None = None,
    pool: int = 0,
) -> State[Any]:
    """One queued document through the pipeline, its result stored, its file moved: in this
    process, or in one of a pool of `pool` worker processes.

    The extract stage holds a slot of its route's model gate (a Prefect concurrency limit) while it runs."""
    if pool:
        outcome = WorkerPool.run(pool, row_id, workspace, config, max_tries, gates or {})
    else:
        outcome = run_here(row_id, workspace, config, max_tries, gates or {})
    if outcome.state == RETRY:
        raise TransientFailure(f"{outcome.name}: {outcome.reason} (try {outcome.tries} of {max_tries})")
    store = _store(workspace, config)
    stored = store.get(str(outcome.document_id)) if outcome.document_id is not None else None
    review_url = config.review.document_url(stored.id) if stored is not None else None
    create_markdown_artifact(
        document_markdown(outcome, stored, review_url), key=artifact_key(outcome, stored), description=outcome.name
    )
    message = f"{outcome.name}: {outcome.reason if outcome.reason else outcome.status}"
    return Failed(message=message) if outcome.failed else Completed(message=message)


_stores: dict[tuple[str, str], Store] = {}


def _store(workspace: str, config: Config) -> Store:
    """The store of a workspace, opened once per process (for the artifacts written here)."""
    key = (workspace, config.store.url)
    if key not in _stores:
        _stores[key] = Store.for_workspace(Path(workspace), config.store.url)
    return _stores[key]


# Someone watching the run (the CLI's progress bar) gets each outcome as it is recorded.
Listener = Callable[[Outcome, int], None]
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
    duplicate: int = 0
    pages: int = 0
    # Documents whose task broke (the worker could not start, a bug), not the document itself:
    # they stay queued in processing/ and run again next time. "name: error" each.
    broken: list[str] = field(default_factory=list)

    def add(self, outcome: Outcome) -> None:
        self.processed += 1
        self.pages += outcome.pages
        key = "duplicate" if outcome.state == "duplicate" else "failed" if outcome.failed else outcome.status
        if key in ("ok", "needs_review", "failed", "duplicate"):
            setattr(self, key, getattr(self, key) + 1)


@contextmanager
def _task_runner(workers: int, scale: Scale) -> Iterator[Any]:
    """The started task runner. On this machine, task runs are threads of this process: one worker
    runs documents here too (no start-up cost; tests can patch it), more hand them to worker
    processes (`WorkerPool`). On Dask, task runs go to the Dask workers; both report to this
    run's Prefect API."""
    runner: Any = ThreadPoolTaskRunner(max_workers=workers) if scale.task_runner != "dask" else None
    with one_api(), runner or dask_task_runner(scale, workers) as started:
        yield started


def drain_queue(
    ws: Workspace,
    store: Store,
    journal: Journal,
    config: Config,
    *,
    workers: int,
    max_tries: int = 3,
    linger_s: float = 0.0,
    backoff_s: float = RETRY_BACKOFF_S,
    summary: Summary | None = None,
    scale: Scale = ON_THIS_MACHINE,
) -> Summary:
    """Run every queued document, and those queued meanwhile until `linger_s` pass with none.

    Holds the workspace's `process` lock: one run at a time recovers and drains processing/.
    """
    with workspace_lock(ws, PROCESS_LOCK):
        queued = recover_processing(ws, store, journal)
        if not linger_s and not scale.dask_address:  # nothing more will come: no worker without a document
            workers = max(1, min(workers, len(queued)))
        gates = ensure_gates(config)
        with _task_runner(workers, scale) as runner:
            pool = workers if workers > 1 and scale.task_runner != "dask" else 0
            dispatcher = _Dispatcher(runner, ws, store, journal, config, workers, max_tries, backoff_s, gates, pool)
            try:
                return dispatcher.run(linger_s, summary or Summary())
            finally:
                # Stop the pool with the run. A run served by `watch` is a multiprocessing child
                # process: at its exit multiprocessing joins the pool's workers before
                # concurrent.futures has told them to stop, and the run never ends.
                if pool:
                    WorkerPool.close()


# How often the journal is asked for newly queued rows once the last look's are submitted, while
# documents run and while lingering for more: a file claimed meanwhile waits at most this long.
LOOK_S = 0.25


@dataclass
class _Dispatcher:
    runner: Any
    ws: Workspace
    store: Store
    journal: Journal
    config: Config
    workers: int
    max_tries: int
    backoff_s: float
    gates: dict[str, ModelGate] = field(default_factory=dict)  # route -> the gate of its model
    pool: int = 0  # worker processes that run the documents; 0: the task runs them itself
    waiting: list[IntakeRow] = field(default_factory=list)  # queued, not yet submitted (from the last look)
    looked: float = float("-inf")

    def run(self, linger_s: float, summary: Summary) -> Summary:
        in_flight: dict[PrefectWrappedFuture[Any, Any], IntakeRow] = {}
        tried: set[int] = set()  # one submission per row and run: a task that breaks is not resubmitted
        idle_since = time.monotonic()
        while True:
            self._submit(in_flight, tried)
            if not in_flight:
                if time.monotonic() - idle_since >= linger_s:
                    return summary
                time.sleep(min(LOOK_S, max(linger_s, 0.1)))
                continue
            for future in _first_done(list(in_flight)):
                self._collect(in_flight.pop(future).id, future, summary)
            idle_since = time.monotonic()

    def _look(self, tried: set[int], in_flight: bool) -> None:
        """Queued rows from the journal, once the last look's are all submitted: at once when
        nothing runs, else at most every LOOK_S (one query per look, not one per document)."""
        if self.waiting or (in_flight and time.monotonic() - self.looked < LOOK_S):
            return
        self.looked = time.monotonic()
        self.waiting = [row for row in self.journal.rows([QUEUED]) if row.id not in tried]

    def _submit(self, in_flight: dict[PrefectWrappedFuture[Any, Any], IntakeRow], tried: set[int]) -> None:
        if len(in_flight) >= self.workers:
            return
        self._look(tried, bool(in_flight))
        busy = {row.sha256 for row in in_flight.values()}
        held: list[IntakeRow] = []
        for row in self.waiting:
            if len(in_flight) >= self.workers or row.sha256 in busy:
                held.append(row)  # the same bytes run one at a time: the second copy then finds the first booked
                continue
            retries = max(self.max_tries - 1, 0)  # the delays as a list: Prefect expands a callable only once
            task_ = process_document.with_options(
                task_run_name=row.name,
                retries=retries,
                retry_delay_seconds=exponential_backoff(self.backoff_s)(retries),
            )
            params = {"row_id": row.id, "workspace": str(self.ws.root), "config": self.config, "gates": self.gates}
            in_flight[self.runner.submit(task_, {**params, "max_tries": self.max_tries, "pool": self.pool})] = row
            tried.add(row.id)
            busy.add(row.sha256)
        self.waiting = held

    def _collect(self, row_id: int, future: PrefectWrappedFuture[Any, Any], summary: Summary) -> None:
        outcome = outcome_of(self.journal.get(row_id), self.store)
        if outcome.state == QUEUED:  # the task broke, not the document: it waits for the next run
            reason = _why_it_broke(future)
            get_run_logger().error("%s: its task broke (%s); it stays queued in processing/", outcome.name, reason)
            summary.broken.append(f"{outcome.name}: {reason}")
            return
        _settled(outcome, summary)


def _why_it_broke(future: PrefectWrappedFuture[Any, Any]) -> str:
    """The error of a task that ended without an outcome: the worker's exception, or the message
    of the Failed state the task engine made of it."""
    error = future.wrapped_future.exception()
    if error is None:
        final = future.wrapped_future.result()
        return str(final.message) if isinstance(final, State) and final.message else repr(final)
    return str(error) if isinstance(error, ConfigError) else repr(error)


def _settled(outcome: Outcome, summary: Summary) -> None:
    summary.add(outcome)
    for listener in list(_listeners):
        listener(outcome, summary.processed)


def _first_done(futures: list[PrefectWrappedFuture[Any, Any]]) -> list[PrefectWrappedFuture[Any, Any]]:
    """The futures that are done, waiting up to LOOK_S for one. Asks the local (process pool or
    Dask) futures: `PrefectFuture.state` would ask the API, a new client and a request per future."""
    done = [f for f in futures if f.wrapped_future.done()]
    if done:
        return done
    try:
        first = next(as_completed(list[PrefectFuture[Any]](futures), timeout=LOOK_S))
    except TimeoutError:
        return []
    return [f for f in futures if f is first]


@flow(name="process-documents", flow_run_name="process {label}", validate_parameters=False)
def process_documents(
    paths: list[str],
    workspace: str,
    config: Config,
    label: str = "documents",
    workers: int = 0,
    max_tries: int = 3,
    backoff_s: float = RETRY_BACKOFF_S,
    task_runner: str = "process",
    dask_address: str = "",
) -> dict[str, Any]:
    """Claim the given files (intake -> processing), then run everything queued in the workspace.

    `config` is the one the command line built (the workspace's ledgerlens.toml and its options);
    `workers` 0 lets the engine decide. `task_runner` "dask" spreads documents over a Dask
    LocalCluster, or the cluster at `dask_address`."""
    scale = Scale(task_runner, dask_address)
    ws = Workspace(Path(workspace))
    check_engine(config)  # a missing model or extra stops here, before any file is claimed
    store = Store.for_workspace(ws.root, config.store.url)
    try:
        journal = Journal(store)
        with workspace_lock(ws, CLAIM_LOCK, wait=False) as held:
            if not held:
                raise ConfigError(
                    f"`ledgerlens watch` (pid {lock_holder(ws, CLAIM_LOCK)}) is serving {ws.root}: "
                    "files dropped into intake/ are processed by it"
                )
            recover_claims(ws, store, journal)
            summary = Summary()
            processing = Path(os.path.abspath(ws.processing))
            for raw in paths:
                if Path(os.path.abspath(raw)).is_relative_to(processing):  # the path itself: links are not followed
                    continue  # claimed already: it is queued, and runs below
                row = claim(entry_for(Path(raw), ws.intake), ws, store, journal) if os.path.lexists(raw) else None
                if row is not None and row.state != QUEUED:  # set aside unopened (a link, a pipe) or unreadable
                    _settled(outcome_of(row, store), summary)
        workers = workers or default_workers(config)
        summary = drain_queue(
            ws,
            store,
            journal,
            config,
            workers=workers,
            max_tries=max_tries,
            backoff_s=backoff_s,
            summary=summary,
            scale=scale,
        )
    finally:
        store.close()
    return vars(summary)


def process_workspace(
    ws: Workspace, folder: Path | None = None, workers: int = 0, config: Config | None = None
) -> dict[str, Any]:
    """Process every file waiting in the workspace's intake (or a sub-folder of it) once, with the
    workspace's configuration unless another is given."""
    files = [str(p) for p in list_inputs(folder or ws.intake)]
    label = f"{len(files)} document{'s' if len(files) != 1 else ''}"
    return process_documents(files, str(ws.root), config or ws.config(), label=label, workers=workers)
