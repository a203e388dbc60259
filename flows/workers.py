"""Where a document's pipeline runs: here, or in a warm pool of worker processes.

The Prefect task run of each document stays in the flow's process (one thread per worker); with
more than one worker, the document itself (pipeline, store, move: `run_document`) runs in a
worker process that imports the pipeline and not Prefect. Measured on 100 documents (issue 17),
a Prefect worker process cost ~3.5 s of CPU to import and set up every task's settings again;
this one costs ~1 s, and the task's states and artifact go straight from the flow's process.

The pool's processes come from a forkserver that imports this module once: each worker is a fork
of it, warm, and the pool is kept for the next run in the same process (a benchmark, or a served
flow run that lingers). This module imports no Prefect; the model gate imports it, in the worker,
only when the engine has a gate.
"""

from __future__ import annotations

import multiprocessing
import os
import select
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from ledgerlens.pipeline.books.store import Store
from ledgerlens.pipeline.chain import Context
from ledgerlens.pipeline.config import Config
from ledgerlens.pipeline.engines import ModelGate
from ledgerlens.pipeline.intake.jobs import Outcome, run_document, worker_context
from ledgerlens.pipeline.intake.journal import Journal
from ledgerlens.pipeline.intake.workspace import Workspace

from .scale import gated


@dataclass
class Worker:
    ws: Workspace
    ctx: Context
    store: Store
    journal: Journal


_workers: dict[tuple[str, str], Worker] = {}


def worker_for(workspace: str, config: Config) -> Worker:
    """What a worker needs, built once per process (a model engine loads once).

    The configuration comes from the flow, read once there (with any command-line overrides).
    """
    key = (workspace, repr(config))
    if key not in _workers:
        ws = Workspace(Path(workspace))
        store = Store.for_workspace(ws.root, config.store.url)
        _workers[key] = Worker(ws, worker_context(ws, config, store), store, Journal(store))
    return _workers[key]


def run_here(row_id: int, workspace: str, config: Config, max_tries: int, gates: dict[str, ModelGate]) -> Outcome:
    """One queued document through the pipeline in this process; the extract stage holds a slot
    of the gate of its route's model while it runs."""
    w = worker_for(workspace, config)
    return run_document(row_id, w.ws, w.ctx, w.store, w.journal, max_tries=max_tries, runner=gated(gates))


def _in_worker(
    row_id: int, workspace: str, config: Config, max_tries: int, gates: dict[str, ModelGate], env: dict[str, str]
) -> Outcome:
    os.environ.update(env)  # the run's Prefect API, for the gate
    return run_here(row_id, workspace, config, max_tries, gates)


def _init_worker_process(parent: int) -> None:
    os.environ["OMP_THREAD_LIMIT"] = "1"  # Tesseract inherits it: one core per worker
    threading.Thread(target=_exit_with, args=(parent,), name="ledgerlens-parent-watch", daemon=True).start()


def _exit_with(parent: int) -> None:
    """End this worker when the process that owns the pool is gone. The pool outlives a run, and
    a flow run stopped by a signal runs no exit handler: its workers (and the forkserver, which
    lives while they do) would otherwise wait for work forever."""
    try:
        fd = os.pidfd_open(parent)
    except (AttributeError, OSError):  # no pidfd (not Linux, or an old kernel): look every second
        while _alive(parent):
            time.sleep(1.0)
    else:
        select.select([fd], [], [])  # readable once the parent has exited
    os._exit(0)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class WorkerPool:
    """N warm worker processes for the documents of one run (`drain_queue` closes them when the run ends)."""

    _lock = threading.Lock()
    _current: tuple[tuple[object, ...], ProcessPoolExecutor] | None = None

    @classmethod
    def run(
        cls, workers: int, row_id: int, workspace: str, config: Config, max_tries: int, gates: dict[str, ModelGate]
    ) -> Outcome:
        """`run_here` in a worker process; blocks this thread until the document is done."""
        env = {"PREFECT_API_URL": _api_url()} if gates else {}
        pool = cls._pool(workers)
        try:
            return pool.submit(_in_worker, row_id, workspace, config, max_tries, gates, env).result()
        except BrokenProcessPool:  # a worker died (killed, out of memory): the next document gets a new pool
            cls._discard(pool)
            raise

    @classmethod
    def _pool(cls, workers: int) -> ProcessPoolExecutor:
        key = (workers,)
        with cls._lock:
            if cls._current is not None and cls._current[0] == key:
                return cls._current[1]
            if cls._current is not None:
                cls._current[1].shutdown(wait=False, cancel_futures=True)
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload([__name__])
            pool = ProcessPoolExecutor(
                workers, mp_context=context, initializer=_init_worker_process, initargs=(os.getpid(),)
            )
            cls._current = (key, pool)
            return pool

    @classmethod
    def _discard(cls, pool: ProcessPoolExecutor) -> None:
        with cls._lock:
            if cls._current is not None and cls._current[1] is pool:
                cls._current = None
        pool.shutdown(wait=False, cancel_futures=True)

    @classmethod
    def close(cls) -> None:
        with cls._lock:
            current, cls._current = cls._current, None
        if current is not None:
            current[1].shutdown(wait=True, cancel_futures=True)


def _api_url() -> str:
    from prefect.settings import get_current_settings

    return str(get_current_settings().api.url or "")
