"""`make bench-scale`: the whole flow against the pipeline inside it, on many distinct documents.

Issue 17's targets, each printed with met / not met:

1. `eval` (the stages alone, worker processes, no flow, store or moves) and `process` (the real
   `process-documents` flow: claim, pipeline, store, journal, moves, one Prefect task run per
   document) on the same N distinct generated documents (default 100: born-digital PDFs, scans,
   photos and e-invoices from several seeds of `tests/fixtures/generate.py`), with 1 and 2
   workers, interleaved; then the flow on a Dask LocalCluster of 2 workers. Each timed run starts
   its workers cold (start-up counted); the ephemeral Prefect API is started first, untimed.
   Reported: seconds, documents/min, what the flow adds per document, 2 over 1 worker.
   Targets: `process` within 10 % of `eval`; 2 workers >= 1.8x one; Dask within 10 % of processes.
2. Born-digital PDFs alone through `process` with 2 workers: >= 1,000 documents/min.
3. Worker start-up: what a worker process imports (`-X importtime`, total) and the CPU it takes:
   <= 1 s.
4. `ledgerlens watch` (a real `prefect server`, 2 workers) fed one document every 2 s: the
   latency from the drop (the rename into intake/) to the file in done/, p95 < 5 s.
5. The `openai` engine against the test server (`tests/openai_server.py`, a loopback HTTP server
   answering a recorded completion after a fixed latency) at 1, 4 and 16 concurrent requests.

    python benchmarks/bench_scale.py [--docs 100] [--repeat 1] [--quick] [--out build/bench-scale.json]

`--quick` (a smoke test, seconds): 4 documents, 1 and 2 workers, no Dask, watch or openai part.
The machine's load average is recorded before and after: on a shared machine other work changes
every wall-clock figure (the fastest of `--repeat` runs counts).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the fixture generator, the test model and Prefect servers

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")

PER_SEED = 31  # documents one seed of the generator writes (scans included)
WORKER_MODULE = "ledgerlens.flows.workers"  # what a worker process imports (flows/workers.py)
TARGETS = {
    "process_vs_eval_max": 1.10,
    "speedup_min": 1.8,
    "dask_vs_processes_max": 1.10,
    "born_digital_docs_per_min_min": 1000.0,
    "worker_start_cpu_s_max": 1.0,
    "watch_p95_s_max": 5.0,
}


# ---------------------------------------------------------------- documents


def documents(folder: Path, n: int, *, scans: bool = True, pattern: str = "*") -> list[tuple[int, Path]]:
    """N distinct documents (seed, path): seeds 1, 2, ... in turn, each seed's documents in name
    order, the same template from every seed before the next template."""
    from fixtures.generate import generate

    per_seed: dict[int, list[Path]] = {}
    seed = 0
    while sum(len(v) for v in per_seed.values()) < n:
        seed += 1
        out = folder / f"seed{seed}"
        generate(out, seed=seed, scans=scans)
        per_seed[seed] = sorted(
            p for p in out.glob(pattern) if p.suffix not in (".json", ".jsonl") and not p.name.endswith(".gt.json")
        )
        if not per_seed[seed]:
            raise RuntimeError(f"no documents matching {pattern} from seed {seed}")
    rows = max(len(v) for v in per_seed.values())
    picked = [(s, docs[i]) for i in range(rows) for s, docs in per_seed.items() if i < len(docs)]
    return picked[:n]


def eval_sets(docs: list[tuple[int, Path]], folder: Path) -> list[Path]:
    """The documents as `bench-gt/1` folders (one per seed, its manifest cut to the chosen ones)."""
    out = []
    for seed in sorted({s for s, _ in docs}):
        chosen = {p.name for s, p in docs if s == seed}
        src = next(p.parent for s, p in docs if s == seed)
        dst = folder / f"seed{seed}"
        dst.mkdir(parents=True)
        rows = [json.loads(line) for line in (src / "manifest.jsonl").read_text().splitlines() if line.strip()]
        rows = [r for r in rows if r["document"] in chosen]
        for r in rows:
            shutil.copy(src / r["document"], dst / r["document"])
            shutil.copy(src / r["gt"], dst / r["gt"])
        (dst / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        out.append(dst)
    return out


def flat_name(seed: int, path: Path) -> str:
    return f"s{seed}_{path.name}"


# ---------------------------------------------------------------- timed runs


def start_api() -> float:
    """Start the ephemeral Prefect API (a new database) before any timed run, which would
    otherwise pay for it alone. Returns its start-up time in seconds."""
    from prefect.client.orchestration import get_client

    started = time.perf_counter()
    with get_client(sync_client=True) as client:
        client.hello()
    return round(time.perf_counter() - started, 2)


def cold_workers() -> None:
    """No warm worker pool from an earlier run: each timed run pays for its workers' start-up."""
    from ledgerlens.flows.workers import WorkerPool

    WorkerPool.close()


def eval_run(sets: list[Path], documents: int, workers: int) -> dict[str, Any]:
    from ledgerlens.pipeline.config import Config
    from ledgerlens.pipeline.measure.evaluate import evaluate_datasets

    started = time.perf_counter()
    report = evaluate_datasets(sets, Config(), workers=workers)
    seconds = time.perf_counter() - started
    assert report.documents == documents, (report.documents, documents)
    return _rate({"run": "eval", "workers": workers, "documents": documents}, seconds)


def process_run(docs: list[tuple[int, Path]], root: Path, workers: int, task_runner: str = "process") -> dict[str, Any]:
    from ledgerlens.flows.process import process_documents
    from ledgerlens.pipeline.intake.workspace import init_workspace

    shutil.rmtree(root, ignore_errors=True)
    ws = init_workspace(root)
    for seed, doc in docs:
        shutil.copy(doc, ws.intake / flat_name(seed, doc))
    paths = [str(p) for p in sorted(ws.intake.iterdir())]
    cold_workers()
    started = time.perf_counter()
    summary = process_documents(
        paths, str(ws.root), ws.config(), label="bench", workers=workers, task_runner=task_runner
    )
    seconds = time.perf_counter() - started
    settled = summary["processed"] + len(summary["broken"])
    assert settled == len(docs) and not summary["broken"], summary
    run = "process" if task_runner == "process" else f"process ({task_runner})"
    return _rate({"run": run, "workers": workers, "documents": len(docs), "pages": summary["pages"]}, seconds)


def _rate(run: dict[str, Any], seconds: float) -> dict[str, Any]:
    return {**run, "seconds": round(seconds, 2), "docs_per_min": round(60 * run["documents"] / seconds, 1)}


def fastest(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """On a shared machine other work only ever adds time: the fastest repeat counts."""
    return min(runs, key=lambda r: r["seconds"])


def compare(eval_runs: dict[int, dict[str, Any]], process_runs: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """What the flow adds over the stages, per worker count, and what a second worker gains."""
    out: dict[str, Any] = {}
    for n, p in process_runs.items():
        e = eval_runs[n]
        out[f"{n}_workers"] = {
            "process_over_eval": round(p["seconds"] / e["seconds"], 3),
            "orchestration_s_per_doc": round((p["seconds"] - e["seconds"]) / p["documents"], 4),
        }
    if 1 in eval_runs and 2 in eval_runs:
        out["eval_speedup_2_over_1"] = round(eval_runs[1]["seconds"] / eval_runs[2]["seconds"], 2)
        out["process_speedup_2_over_1"] = round(process_runs[1]["seconds"] / process_runs[2]["seconds"], 2)
    return out


# ---------------------------------------------------------------- worker start-up


def worker_startup() -> dict[str, Any]:
    """What a worker process imports, timed by `-X importtime` (sum of the top-level imports) and
    by the CPU the process takes to do it."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {WORKER_MODULE}"],
        capture_output=True,
        text=True,
        check=True,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {
        "module": WORKER_MODULE,
        "importtime_s": round(importtime_total(proc.stderr), 3),
        "cpu_s": round(cpu, 3),
        "imports_prefect": bool(re.search(r"\|\s+prefect$", proc.stderr, re.MULTILINE)),
    }


def importtime_total(stderr: str) -> float:
    """Seconds: the cumulative time of every top-level import in `-X importtime` output."""
    total = 0
    for line in stderr.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+(\d+) \| (\S.*)$", line)
        if m:  # one space before the name: imported by the script itself, not by another module
            total += int(m.group(1))
    return total / 1e6


# ---------------------------------------------------------------- watch latency


def watch_latency(docs: list[tuple[int, Path]], scratch: Path, every_s: float, workers: int) -> dict[str, Any]:
    """`ledgerlens watch` on a real Prefect server, fed one document every `every_s` seconds;
    the seconds from each drop to its file in done/ (or failed/). The first document, dropped
    before the stream and not counted, waits until the service is up."""
    from ledgerlens.pipeline.intake.workspace import init_workspace
    from prefect_server import env, prefect_server, stop_watch

    home = scratch / "watch-prefect"
    ws = init_workspace(scratch / "watch-ws")
    options = ["--workers", str(workers), "--poll", "0.5", "--stable", "1", "--linger", "30"]
    with prefect_server(home) as url:
        log = (scratch / "watch.log").open("ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "ledgerlens.cli", "watch", str(ws.root), *options],
            env=env(url, home),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            warmup, stream = docs[0], docs[1:]
            _drop(warmup[1], ws.intake / flat_name(*warmup))
            if not _arrivals(ws, {flat_name(*warmup)}, timeout_s=300):
                raise RuntimeError(f"watch processed nothing in 300 s; see {scratch / 'watch.log'}")
            dropped: dict[str, float] = {}
            seen: dict[str, float] = {}
            names = [flat_name(s, d) for s, d in stream]
            watcher = threading.Thread(target=lambda: seen.update(_arrivals(ws, set(names), 120 + every_s * len(docs))))
            watcher.start()
            next_at = time.monotonic()
            for name, (_, doc) in zip(names, stream, strict=True):
                time.sleep(max(0.0, next_at - time.monotonic()))
                dropped[name] = _drop(doc, ws.intake / name)
                next_at += every_s
            watcher.join()
        finally:
            stop_watch(proc)
            log.close()
    latencies = sorted(seen[n] - dropped[n] for n in names if n in seen)
    return {
        "documents": len(names),
        "settled": len(latencies),
        "every_s": every_s,
        "workers": workers,
        "options": " ".join(options),
        "latency_p50_s": round(statistics.median(latencies), 2) if latencies else None,
        "latency_p95_s": round(percentile(latencies, 0.95), 2) if latencies else None,
        "latency_max_s": round(latencies[-1], 2) if latencies else None,
    }


def _drop(source: Path, target: Path) -> float:
    """As a careful copier writes: a temporary name, then a rename. Returns the rename's time."""
    tmp = target.with_name(target.name + ".part")
    shutil.copy(source, tmp)
    os.replace(tmp, target)
    return time.monotonic()


def _arrivals(ws: Any, names: set[str], timeout_s: float) -> dict[str, float]:
    """When each named file first appeared in done/ or failed/ (looked at every 50 ms)."""
    seen: dict[str, float] = {}
    deadline = time.monotonic() + timeout_s
    while len(seen) < len(names) and time.monotonic() < deadline:
        now = time.monotonic()
        for folder in (ws.done, ws.failed):
            with os.scandir(folder) as it:
                for entry in it:
                    if entry.name in names and entry.name not in seen:
                        seen[entry.name] = now
        time.sleep(0.05)
    return seen


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank percentile of sorted `values`: the smallest value with at least a `q`
    share of the values at or below it."""
    return values[max(0, math.ceil(round(q * len(values), 9)) - 1)]


# ---------------------------------------------------------------- the openai engine


def prepared_invoices(folder: Path) -> list[tuple[list[Any], Any]]:
    """(pages, schema) of each generated invoice PDF: rasterized, text layer read."""
    from ledgerlens.pipeline.config import PipelineOptions
    from ledgerlens.pipeline.doctypes.schemas import load_schemas
    from ledgerlens.pipeline.read.load import load_document
    from ledgerlens.pipeline.read.ocr import read_text
    from ledgerlens.pipeline.read.rasterize import rasterize

    opts, schema = PipelineOptions(), load_schemas()["invoice"]
    out = []
    for pdf in sorted(folder.glob("invoice_*.pdf")):
        doc = rasterize(load_document(pdf, opts), opts, folder / f"{pdf.stem}-pages", all_pages=True)
        out.append((read_text(doc, opts).pages, schema))
    return out


def openai_run(invoices: list[tuple[list[Any], Any]], concurrency: int, requests: int, latency: float) -> dict:
    from ledgerlens.pipeline.check.answers import PIPELINE_CHECKS
    from ledgerlens.pipeline.config import Config, EngineConfig
    from ledgerlens.pipeline.engines import create_engine
    from openai_server import FakeModelServer

    with FakeModelServer(latency_s=latency) as server:
        options = {"base_url": server.base_url, "preset": "vllm", "concurrency": concurrency, "max_reasks": 0}
        engine = create_engine(
            Config(engine=EngineConfig(name="openai", model="bench", options=options)), PIPELINE_CHECKS
        )
        jobs = list(range(requests))
        lock = threading.Lock()
        latencies: list[float] = []

        def worker() -> None:
            while True:
                with lock:
                    if not jobs:
                        return
                    i = jobs.pop()
                pages, schema = invoices[i % len(invoices)]
                t = time.perf_counter()
                engine.extract(pages, "invoice", schema)
                with lock:
                    latencies.append(time.perf_counter() - t)

        threads = [threading.Thread(target=worker) for _ in range(concurrency)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seconds = time.perf_counter() - started
        seen = server.max_in_flight
    latencies.sort()
    return {
        "concurrent_requests": concurrency,
        "documents": requests,
        "server_latency_s": latency,
        "seconds": round(seconds, 2),
        "docs_per_min": round(60 * requests / seconds, 1),
        "latency_p50_s": round(statistics.median(latencies), 3),
        "latency_p95_s": round(latencies[int(0.95 * (len(latencies) - 1))], 3),
        "server_max_in_flight": seen,
    }


# ---------------------------------------------------------------- targets


def verdicts(report: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(target, measured, met) for each target the report has figures for."""
    out: list[tuple[str, str, bool]] = []
    t = TARGETS
    for n in (1, 2):
        c = report["compare"].get(f"{n}_workers")
        if c:
            ratio = c["process_over_eval"]
            out.append(
                (f"process within 10% of eval, {n} worker(s)", f"{ratio:.2f}x", ratio <= t["process_vs_eval_max"])
            )
    if "process_speedup_2_over_1" in report["compare"]:
        speedup = report["compare"]["process_speedup_2_over_1"]
        out.append(("whole flow, 2 workers >= 1.8x one", f"{speedup:.2f}x", speedup >= t["speedup_min"]))
    if "dask_over_processes" in report:
        ratio = report["dask_over_processes"]
        out.append(("Dask within 10% of worker processes", f"{ratio:.2f}x", ratio <= t["dask_vs_processes_max"]))
    if "born_digital" in report:
        rate = report["born_digital"]["docs_per_min"]
        out.append(("born-digital >= 1,000 docs/min", f"{rate:.0f}/min", rate >= t["born_digital_docs_per_min_min"]))
    start = report["worker_startup"]
    out.append(
        ("worker start-up <= 1 s CPU", f"{start['cpu_s']:.2f} s CPU", start["cpu_s"] <= t["worker_start_cpu_s_max"])
    )
    if report.get("watch", {}).get("latency_p95_s") is not None:
        w = report["watch"]
        met = w["latency_p95_s"] < t["watch_p95_s_max"] and w["settled"] == w["documents"]
        out.append(
            ("watch p95 drop -> done/ < 5 s", f"{w['latency_p95_s']:.2f} s ({w['settled']}/{w['documents']})", met)
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=100, help="distinct documents per flow run (default 100)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each eval/process pair; the fastest counts")
    parser.add_argument("--born-digital", type=int, default=200, help="born-digital PDFs for their run (200)")
    parser.add_argument("--watch-docs", type=int, default=30, help="documents in the watch stream (30)")
    parser.add_argument("--every", type=float, default=2.0, help="seconds between two watch drops (2)")
    parser.add_argument("--latency", type=float, default=0.5, help="test server seconds per request (0.5)")
    parser.add_argument("--requests", type=int, default=48, help="documents per openai run (48)")
    parser.add_argument("--no-openai", action="store_true", help="leave out the openai engine part")
    parser.add_argument("--quick", action="store_true", help="a smoke test: 4 documents, no Dask, watch or openai")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bench-scale.json")
    args = parser.parse_args(argv)
    if args.quick:
        args.docs, args.born_digital = min(args.docs, 4), min(args.born_digital, 4)

    with tempfile.TemporaryDirectory(prefix="ledgerlens-bench-scale-") as tmp:
        scratch = Path(tmp)
        os.environ.setdefault("PREFECT_HOME", str(scratch / "prefect"))
        report: dict[str, Any] = {"load_average_before": os.getloadavg(), "cores": os.cpu_count()}
        report["worker_startup"] = worker_startup()
        print(f"worker start-up: {json.dumps(report['worker_startup'])}", flush=True)
        docs = documents(scratch / "samples", args.docs)
        sets = eval_sets(docs, scratch / "eval-sets")
        report["documents"] = len(docs)
        report["api_start_s"] = start_api()
        print(f"{len(docs)} distinct documents; Prefect API started in {report['api_start_s']} s", flush=True)
        runs: list[dict[str, Any]] = []
        for _ in range(args.repeat):
            for workers in (1, 2):  # interleaved: load that comes and goes hits both alike
                for run in (eval_run(sets, len(docs), workers), process_run(docs, scratch / "ws", workers)):
                    runs.append(run)
                    print(json.dumps(run), flush=True)
        best = {(r["run"], r["workers"]): r for r in sorted(runs, key=lambda r: -r["seconds"])}
        evals = {n: best[("eval", n)] for n in (1, 2)}
        processes = {n: best[("process", n)] for n in (1, 2)}
        report["runs"] = runs
        report["fastest"] = list(best.values())
        report["compare"] = compare(evals, processes)
        if not args.quick:
            dask = process_run(docs, scratch / "ws", 2, "dask")
            print(json.dumps(dask), flush=True)
            report["dask"] = dask
            report["dask_over_processes"] = round(dask["seconds"] / processes[2]["seconds"], 3)
        born = documents(scratch / "born-digital", args.born_digital, scans=False, pattern="*.pdf")
        report["born_digital"] = process_run(born, scratch / "ws", 2)
        print(json.dumps(report["born_digital"]), flush=True)
        if not args.quick:
            report["watch"] = watch_latency(docs[: args.watch_docs + 1], scratch, args.every, 2)
            print(f"watch: {json.dumps(report['watch'])}", flush=True)
        if not (args.quick or args.no_openai):
            invoices = prepared_invoices(scratch / "samples" / "seed1")
            report["openai_engine"] = []
            for concurrency in (1, 4, 16):
                report["openai_engine"].append(openai_run(invoices, concurrency, args.requests, args.latency))
                print(json.dumps(report["openai_engine"][-1]), flush=True)
        cold_workers()
        report["load_average_after"] = os.getloadavg()
    report["targets"] = [{"target": t, "measured": m, "met": ok} for t, m, ok in verdicts(report)]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report["compare"]))
    for row in report["targets"]:
        print(f"{'met    ' if row['met'] else 'NOT met'}  {row['target']}: {row['measured']}")
    load = ", ".join(f"{x:.2f}" for x in report["load_average_before"])
    print(f"load average before: {load}; after: {', '.join(f'{x:.2f}' for x in report['load_average_after'])}")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
