"""`ledgerlens watch`: a Prefect-served deployment, and a poller that feeds it.

`flow.serve` registers the deployment `process-intake/<workspace>` (so it is listed in the UI) and
runs each of its flow runs in a subprocess. A poller thread in the same process looks at intake/
every `poll_s` seconds, claims the files that have stopped changing (journal row, then rename)
and, when documents are queued and no run of the deployment is going, asks for one. That run
drains the queue with N worker processes and stays `linger_s` after its last document, so a
trickle of files is one flow run, not one per file (a flow run costs seconds; see README).

The poller holds the workspace's `claim` lock for its whole life: a second watcher, or a
`ledgerlens process`, on the same workspace is refused with a clear message.
"""

from __future__ import annotations

import _thread
import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast
from uuid import UUID

from ledgerlens.pipeline.books.store import Store
from ledgerlens.pipeline.config import Config, parse_config
from ledgerlens.pipeline.engines import check_engine, default_workers
from ledgerlens.pipeline.errors import ConfigError
from ledgerlens.pipeline.intake.claims import CLAIM_LOCK, PROCESS_LOCK, IntakePoller, recover_claims
from ledgerlens.pipeline.intake.journal import FINISHING, QUEUED, IntakeRow, Journal
from ledgerlens.pipeline.intake.watcher import Stability
from ledgerlens.pipeline.intake.workspace import Workspace, lock_holder, workspace_lock
from prefect import flow, get_run_logger
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterId,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
    TaskRunFilter,
    TaskRunFilterFlowRunId,
    TaskRunFilterState,
    TaskRunFilterStateType,
)
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.deployments import run_deployment
from prefect.exceptions import ObjectNotFound
from prefect.states import Crashed

from .process import drain_queue
from .scale import Scale

FLOW_NAME = "process-intake"
_UNFINISHED = [StateType.SCHEDULED, StateType.PENDING, StateType.RUNNING, StateType.CANCELLING]


@dataclass(frozen=True)
class WatchOptions:
    workers: int = 0  # 0: one per physical core
    poll_s: float = 5.0
    stable_s: float = 5.0
    max_tries: int = 3
    linger_s: float = 30.0
    task_runner: str = "process"  # process | dask (see flows/scale.py)
    dask_address: str = ""


@flow(name=FLOW_NAME, flow_run_name="{label}", validate_parameters=False)
def process_intake(
    workspace: str,
    config: dict[str, Any],
    workers: int = 0,
    max_tries: int = 3,
    linger_s: float = 30.0,
    label: str = "intake",
    task_runner: str = "process",
    dask_address: str = "",
) -> dict[str, Any]:
    """Every document queued in processing/, and those queued while it runs. `config` is the
    watcher's configuration as plain data (a served flow's parameters are JSON)."""
    ws = Workspace(Path(workspace))
    settings = parse_config(config)
    store = Store.for_workspace(ws.root, settings.store.url)
    try:
        summary = drain_queue(
            ws,
            store,
            Journal(store),
            settings,
            workers=workers or default_workers(settings),
            max_tries=max_tries,
            linger_s=linger_s,
            scale=Scale(task_runner, dask_address),
        )
    finally:
        store.close()
    get_run_logger().info("%s", vars(summary))
    return vars(summary)


def deployment_name(ws: Workspace) -> str:
    """The folder's name, and a short hash of its path: two `books` folders are two deployments."""
    return f"{ws.root.name}-{hashlib.sha256(str(ws.root).encode()).hexdigest()[:6]}"


def watch(ws: Workspace, opts: WatchOptions, config: Config, report: Callable[[IntakeRow], None] | None = None) -> None:
    """Serve until stopped (Ctrl-C, SIGTERM) with `config` (read once by the command line);
    `report` hears of each file that reached done/ or failed/.

    Raises ConfigError if the workspace is watched already.
    """
    with workspace_lock(ws, CLAIM_LOCK, wait=False) as held:
        if not held:
            raise ConfigError(f"{ws.root} is already watched by `ledgerlens watch` (pid {lock_holder(ws, CLAIM_LOCK)})")
        check_engine(config)  # a missing model or extra is said now, not by every document's task
        store = Store.for_workspace(ws.root, config.store.url)
        journal = Journal(store)
        recover_claims(ws, store, journal)
        name = deployment_name(ws)
        feeder = Feeder(ws, store, journal, opts, f"{FLOW_NAME}/{name}", report)
        feeder.start()
        try:
            params: dict[str, Any] = {"workspace": str(ws.root), "config": config.to_dict()}
            params |= {"workers": opts.workers, "max_tries": opts.max_tries}
            params |= {"task_runner": opts.task_runner, "dask_address": opts.dask_address}
            process_intake.serve(
                name=name,
                parameters={**params, "linger_s": opts.linger_s},
                description=f"Documents dropped into {ws.intake}",
                tags=["ledgerlens"],
                limit=1,
                print_starting_message=False,
            )
        except KeyboardInterrupt:
            if feeder.error is None:  # Ctrl-C; otherwise the poller stopped the service: say why below
                raise
        finally:
            feeder.stop()
            store.close()
    if feeder.error is not None:
        raise RuntimeError(f"the intake poller stopped: {feeder.error}") from feeder.error


class Feeder(threading.Thread):
    """Claims stable files and asks for a flow run when documents wait and none is going."""

    def __init__(
        self,
        ws: Workspace,
        store: Store,
        journal: Journal,
        opts: WatchOptions,
        deployment: str,
        report: Callable[[IntakeRow], None] | None = None,
    ) -> None:
        super().__init__(name="ledgerlens-intake-poller", daemon=True)
        self.ws, self.journal, self.opts, self.deployment, self.report = ws, journal, opts, deployment, report
        self._since = datetime.now(UTC)
        self._reported: set[int] = set()
        self.poller = IntakePoller(ws, store, journal, Stability(opts.stable_s))
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._active: UUID | None = None
        self._deployment_id: UUID | None = None

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        try:
            while not self._stop.is_set():
                self.poller.poll()
                self._feed()
                self._report()
                self._stop.wait(self.opts.poll_s)
        except Exception as e:  # the service must not go on serving without its poller: stop it
            self.error = e
            _thread.interrupt_main()

    def _report(self) -> None:
        if self.report is None:
            return
        checked = datetime.now(UTC)
        for row in self.journal.settled_since(self._since - timedelta(seconds=5)):  # commits lag their stamps
            if row.id not in self._reported:
                self._reported.add(row.id)
                self.report(row)
        self._since = checked

    def _feed(self) -> None:
        waiting = self.journal.rows([QUEUED, FINISHING])
        if not waiting or (self._active is not None and not self._finished(self._active)):
            return
        if self._deployment_id is None and not self._first_contact():
            return
        label = _label(sorted({row.name for row in waiting}))
        run = run_deployment(
            self.deployment, parameters={"label": label}, flow_run_name=label, timeout=0, as_subflow=False
        )
        self._active = cast(FlowRun, run).id

    def _first_contact(self) -> bool:
        """Once the deployment is registered: mark runs a killed watcher left "running" as crashed."""
        with get_client(sync_client=True) as client:
            try:
                self._deployment_id = client.read_deployment_by_name(self.deployment).id
            except ObjectNotFound:
                return False  # serve has not registered it yet
            with workspace_lock(self.ws, PROCESS_LOCK, wait=False) as free:
                if free:  # no run of ours is going (an orphaned one would hold the lock)
                    _crash_leftovers(client, self._deployment_id)
        return True

    def _finished(self, flow_run_id: UUID) -> bool:
        with get_client(sync_client=True) as client:
            state = client.read_flow_run(flow_run_id).state
        return state is not None and state.is_final()


def _crash_leftovers(client: Any, deployment_id: UUID) -> None:
    message = "ledgerlens watch was stopped while this run was going; its documents were picked up again"
    runs = client.read_flow_runs(
        deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])),
        flow_run_filter=FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=_UNFINISHED))),
    )
    for run in runs:
        tasks = client.read_task_runs(
            task_run_filter=TaskRunFilter(
                flow_run_id=TaskRunFilterFlowRunId(any_=[run.id]),
                state=TaskRunFilterState(type=TaskRunFilterStateType(any_=_UNFINISHED)),
            )
        )
        for task_run in tasks:
            client.set_task_run_state(task_run.id, Crashed(message=message), force=True)
        client.set_flow_run_state(run.id, Crashed(message=message), force=True)


def _label(names: list[str]) -> str:
    shown = ", ".join(names[:3])
    return f"intake: {shown}" + (f" (+{len(names) - 3} more)" if len(names) > 3 else "")


def check_api(timeout_s: float = 15.0) -> None:
    """Fail early and clearly when PREFECT_API_URL points at no server."""
    deadline = time.monotonic() + timeout_s
    with get_client(sync_client=True) as client:
        while (error := client.api_healthcheck()) is not None:
            if time.monotonic() > deadline:
                raise ConfigError(
                    f"the Prefect API at {client.api_url} does not answer ({error.__class__.__name__}); "
                    "start it with `make ui`, or unset PREFECT_API_URL to use a local one"
                )
            time.sleep(1.0)
