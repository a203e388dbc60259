"""How documents are spread over workers, and the gate in front of a shared model.

- `process` (default): N worker processes on this machine; the task runs are threads of the flow's
  process, each handing its document to a warm worker process (`workers.py`).
- `dask`: prefect-dask's `DaskTaskRunner`, on a Dask `LocalCluster` of N single-threaded worker
  processes started for the run, or on an existing cluster (`dask_address`, e.g.
  `tcp://10.0.0.5:8786`) whose workers may be on many machines. Workers on other machines need
  ledgerlens installed, the workspace at the same path (a shared folder), a PostgreSQL store and
  the same PREFECT_API_URL.

The extract stage of every document holds a slot of a Prefect global concurrency limit named
after its model server or GPU (each engine's `gate`), created or resized to the configured size
before the run: across every worker of every machine, requests to one server never exceed it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

from ledgerlens.pipeline.chain import ROUTE_STAGE, Runner, direct
from ledgerlens.pipeline.config import DEFAULT_ROUTE, Config
from ledgerlens.pipeline.engines import ModelGate, engine_gates
from ledgerlens.pipeline.errors import ConfigError

TASK_RUNNERS = ("process", "dask")
GATED_STAGES = frozenset({"extract"})


@dataclass(frozen=True)
class Scale:
    task_runner: str = "process"  # process | dask
    dask_address: str = ""  # "" = a LocalCluster on this machine; else an existing scheduler

    def __post_init__(self) -> None:
        if self.task_runner not in TASK_RUNNERS:
            raise ConfigError(f"--task-runner must be one of {', '.join(TASK_RUNNERS)}, got {self.task_runner!r}")
        if self.dask_address and self.task_runner != "dask":
            raise ConfigError("--dask-address needs --task-runner dask")

    def describe(self, workers: int) -> str:
        if self.task_runner == "process":
            return f"{workers} worker process(es)"
        return f"Dask scheduler {self.dask_address}" if self.dask_address else f"Dask LocalCluster of {workers} workers"


ON_THIS_MACHINE = Scale()  # worker processes of this machine


def dask_task_runner(scale: Scale, workers: int) -> Any:
    try:
        from prefect_dask import DaskTaskRunner
    except ImportError as e:
        raise ConfigError("--task-runner dask needs prefect-dask: pip install 'ledgerlens[scale]'") from e
    logging.getLogger("distributed").setLevel(logging.WARNING)  # no scheduler chatter on the console
    if scale.dask_address:
        return DaskTaskRunner(address=scale.dask_address)
    cluster = {
        "n_workers": workers,
        "threads_per_worker": 1,  # pdfium is not thread-safe; one document per worker process
        "processes": True,
        "host": "127.0.0.1",  # the scheduler listens on loopback only
        "dashboard_address": "127.0.0.1:0",  # a free loopback port: two clusters at once never collide
        # Tesseract single-threaded in each worker; task runs reported to this run's Prefect API
        # (without it, each worker would start an ephemeral API of its own on the same database).
        "env": {"OMP_THREAD_LIMIT": "1", "PREFECT_API_URL": _api_url(), "DASK_LOGGING__DISTRIBUTED": "warning"},
    }
    return DaskTaskRunner(cluster_class="distributed.LocalCluster", cluster_kwargs=cluster)


def _api_url() -> str:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return str(client.api_url).rstrip("/")


@contextmanager
def one_api() -> Iterator[None]:
    """Task runs on Dask workers, and the model gate in worker processes, report to this run's
    Prefect API.

    Without PREFECT_API_URL, Prefect serves an ephemeral API from a subprocess; another process
    handed this run's settings would start one of its own (seconds of start-up per worker, and
    several servers writing one database). Within this, the run's settings name its API."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    if PREFECT_API_URL.value():
        yield
        return
    with temporary_settings({PREFECT_API_URL: _api_url()}):
        yield


# ---------------------------------------------------------------- the model gate


def ensure_gates(config: Config) -> dict[str, ModelGate]:
    """Create (or resize) the global concurrency limit of each routed engine's model (without
    routes, [engine]'s, under DEFAULT_ROUTE): route -> its gate; ungated routes are left out."""
    gates = engine_gates(config)
    if not gates:
        return gates
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate, GlobalConcurrencyLimitUpdate
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        for gate in {g.name: g for g in gates.values()}.values():
            try:
                current = client.read_global_concurrency_limit_by_name(gate.name)
            except ObjectNotFound:
                client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=gate.name, limit=gate.limit))
            else:
                if current.limit != gate.limit or not current.active:
                    client.update_global_concurrency_limit(
                        gate.name, GlobalConcurrencyLimitUpdate(limit=gate.limit, active=True)
                    )
    return gates


def gated(gates: dict[str, ModelGate], runner: Runner = direct) -> Runner:
    """A stage runner (for one document) whose extract stage holds one slot of the gate of the
    document's route while it runs: [engine]'s until the chain's route stage names another."""
    if not gates:
        return runner
    route = DEFAULT_ROUTE

    def run(stage: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        nonlocal route
        gate = gates.get(route) if stage in GATED_STAGES else None
        with _slot(gate) if gate is not None else nullcontext():
            out = runner(stage, fn, *args, **kwargs)
        if stage == ROUTE_STAGE:
            route = out.name
        return out

    return run


def _slot(gate: ModelGate) -> AbstractContextManager[Any]:
    from prefect.concurrency.sync import concurrency

    return concurrency(gate.name, occupy=1, strict=True)
