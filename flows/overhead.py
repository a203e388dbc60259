"""What Prefect costs per document, for each way of structuring the runs, and what workers gain.

    python -m ledgerlens.flows.overhead SAMPLES_DIR [--reps 3] [--json out.json]

SAMPLES_DIR holds one-page documents (`tests/fixtures/generate.py` writes them): born-digital
PDFs (`*.pdf`, read from their text layer) and scans (`*.scan.png`, OCR). Every structure runs
the same documents through the same job (`claim` + `run_document`: pipeline, store, moves), one
at a time, in a fresh workspace, repetitions interleaved; the overhead is its extra time per
document over the job run without Prefect, as wall time and as CPU time (this process tree, an
ephemeral Prefect server included, plus `--server-pid`): on a shared machine, other programs
inflate wall time but not CPU time.

- `direct`:          no Prefect at all (the baseline)
- `task-per-doc`:    one flow run, one task run per document (what `process` and `watch` use)
- `task-per-stage`:  one flow run, one task run per pipeline stage of each document
- `flow-per-doc`:    one flow run per document (in-process; a served run adds a subprocess)

Then the speed-up of N worker processes over one, through the real flow.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ledgerlens.pipeline.books.store import Store
from ledgerlens.pipeline.chain import Context, Runner
from ledgerlens.pipeline.config import Config
from ledgerlens.pipeline.intake.claims import claim
from ledgerlens.pipeline.intake.jobs import run_document
from ledgerlens.pipeline.intake.journal import Journal
from ledgerlens.pipeline.intake.watcher import entry_for
from ledgerlens.pipeline.intake.workspace import Workspace, init_workspace, list_inputs
from ledgerlens.pipeline.machine import physical_cores
from ledgerlens.pipeline.read.load import load_document
from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.events.worker import EventsWorker

from .process import Summary, drain_queue, process_document

KINDS = {"born-digital": "*.pdf", "scanned": "*.scan.png"}


def _workspace(root: Path, files: list[Path]) -> tuple[Workspace, Store, Journal, list[int]]:
    ws = init_workspace(root)
    store = Store.for_workspace(ws.root)
    journal = Journal(store)
    rows = []
    for f in files:
        shutil.copy(f, ws.intake / f.name)
        row = claim(entry_for(ws.intake / f.name, ws.intake), ws, store, journal)
        assert row is not None
        rows.append(row.id)
    return ws, store, journal, rows


@task(name="stage", cache_policy=NO_CACHE, persist_result=False)
def _stage_task(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return fn(*args, **kwargs)


def _per_stage(name: str) -> Runner:
    def runner(stage: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return _stage_task.with_options(task_run_name=f"{stage} · {name}")(fn, *args, **kwargs)

    return runner


@flow(name="overhead-task-per-doc", persist_result=False, validate_parameters=False)
def _task_per_doc(ws_root: str, rows: list[int], config: Config) -> None:
    for row_id in rows:
        process_document.with_options(task_run_name=f"doc {row_id}")(row_id, ws_root, config, 1)


@flow(name="overhead-task-per-stage", persist_result=False, validate_parameters=False)
def _task_per_stage(ws_root: str, rows: list[int], ctx: Context) -> None:
    ws = Workspace(Path(ws_root))
    store = Store.for_workspace(ws.root)
    journal = Journal(store)
    for row_id in rows:
        run_document(row_id, ws, ctx, store, journal, runner=_per_stage(str(row_id)))
    store.close()


@flow(name="overhead-flow-per-doc", persist_result=False, validate_parameters=False)
def _one_doc(ws_root: str, row_id: int, ctx: Context) -> None:
    ws = Workspace(Path(ws_root))
    store = Store.for_workspace(ws.root)
    run_document(row_id, ws, ctx, store, Journal(store))
    store.close()


def _timed(structure: str, files: list[Path], scratch: Path, ctx: Context) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process tree and the Prefect server) for one pass."""
    ws, store, journal, rows = _workspace(scratch / f"{structure}-{time.monotonic_ns()}", files)
    start, cpu = time.perf_counter(), cpu_seconds()
    if structure == "direct":
        for row_id in rows:
            run_document(row_id, ws, ctx, store, journal)
    elif structure == "task-per-doc":
        _task_per_doc(str(ws.root), rows, ctx.config)
    elif structure == "task-per-stage":
        _task_per_stage(str(ws.root), rows, ctx)
    else:
        for row_id in rows:
            _one_doc.with_options(flow_run_name=f"doc {row_id}")(str(ws.root), row_id, ctx)
    EventsWorker.drain_all()  # the run's events are part of its cost
    seconds, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    assert not list_inputs(ws.processing), f"{structure} left documents in processing/"
    store.close()
    return seconds, cpu


_server_pids: list[int] = []


def cpu_seconds() -> float:
    """CPU time of this process, its children (Tesseract, worker processes, an ephemeral Prefect
    server) and any `--server-pid`: contention from other programs does not inflate it."""
    me, reaped = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    total = me.ru_utime + me.ru_stime + reaped.ru_utime + reaped.ru_stime
    tick = os.sysconf("SC_CLK_TCK")
    for pid in _descendants(os.getpid()) | set(_server_pids):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        total += sum(int(v) for v in fields[11:15]) / tick  # utime, stime, cutime, cstime
    return total


def _descendants(root: int) -> set[int]:
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError):
            continue
    found: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - found
        found |= frontier
    return found


@flow(name="overhead-workers", persist_result=False, validate_parameters=False)
def _drain(ws_root: str, workers: int) -> Summary:
    ws = Workspace(Path(ws_root))
    store = Store.for_workspace(ws.root)
    try:
        return drain_queue(ws, store, Journal(store), Config(), workers=workers)
    finally:
        store.close()


def measure_overhead(samples: Path, reps: int, scratch: Path) -> dict[str, Any]:
    ctx = Context.create(Config())
    structures = ("direct", "task-per-doc", "task-per-stage", "flow-per-doc")
    report: dict[str, Any] = {}
    for kind, pattern in KINDS.items():
        files = one_page(sorted(samples.glob(pattern)), ctx)
        if not files:
            continue
        _timed("task-per-doc", files[:2], scratch, ctx)  # warm up the API and the worker cache
        wall: dict[str, list[float]] = {s: [] for s in structures}
        cpu: dict[str, list[float]] = {s: [] for s in structures}
        for _ in range(reps):
            for s in structures:
                seconds, cpu_s = _timed(s, files, scratch, ctx)
                wall[s].append(seconds / len(files))
                cpu[s].append(cpu_s / len(files))
        report[kind] = {"documents": len(files), "wall": _compare(wall), "cpu": _compare(cpu)}
    return report


def _compare(per_doc: dict[str, list[float]]) -> dict[str, Any]:
    """Median seconds per document, and each structure's extra over `direct` (s and %)."""
    base = statistics.median(per_doc["direct"])
    out: dict[str, Any] = {"direct_s_per_doc": round(base, 4)}
    for s, values in per_doc.items():
        if s != "direct":
            extra = statistics.median(values) - base
            out[s] = {"overhead_s_per_doc": round(extra, 4), "overhead_pct": round(100 * extra / base, 1)}
    return out


def one_page(files: list[Path], ctx: Context) -> list[Path]:
    return [f for f in files if len(load_document(f, ctx.config.pipeline).pages) == 1]


def measure_workers(samples: Path, workers: int, scratch: Path) -> dict[str, Any]:
    """Wall time of the real flow with 1 and N worker processes (pool start-up included), and,
    on the scans alone, N threads without Prefect: Tesseract is a subprocess, so threads might do
    (PDFs are left out there: pdfium must not be called from two threads)."""
    scans = sorted(samples.glob(KINDS["scanned"]))
    files = scans + sorted(samples.glob(KINDS["born-digital"]))
    out: dict[str, Any] = {"documents": len(files), "scans": len(scans)}
    for n in (1, workers):
        ws, store, _, _ = _workspace(scratch / f"workers-{n}", files)
        store.close()
        start = time.perf_counter()
        _drain(str(ws.root), n)
        out[f"flow_{n}_workers_s"] = round(time.perf_counter() - start, 2)
    out["flow_speed_up"] = round(out["flow_1_workers_s"] / out[f"flow_{workers}_workers_s"], 2)
    ctx = Context.create(Config())
    for n in (1, workers):
        ws, store, journal, rows = _workspace(scratch / f"threads-{n}", scans)
        start = time.perf_counter()
        with ThreadPoolExecutor(n) as pool:
            list(pool.map(run_document, rows, *([x] * len(rows) for x in (ws, ctx, store, journal))))
        out[f"scans_{n}_threads_s"] = round(time.perf_counter() - start, 2)
        store.close()
    out["threads_speed_up"] = round(out["scans_1_threads_s"] / out[f"scans_{workers}_threads_s"], 2)
    return out


def _load() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("samples", type=Path)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--workers", type=int, default=physical_cores())
    p.add_argument("--json", type=Path)
    p.add_argument("--server-pid", type=int, action="append", default=[], help="count this server's CPU too")
    p.add_argument("--only", choices=("overhead", "workers"), help="run one of the two measurements")
    args = p.parse_args(argv)
    _server_pids.extend(args.server_pid)
    with tempfile.TemporaryDirectory(prefix="ledgerlens-overhead-") as tmp:
        report: dict[str, Any] = {"cores": os.cpu_count(), "load_before": _load()}
        if args.only != "workers":
            report["overhead"] = measure_overhead(args.samples, args.reps, Path(tmp))
        if args.only != "overhead":
            report["workers"] = measure_workers(args.samples, args.workers, Path(tmp))
        report["load_after"] = _load()
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
