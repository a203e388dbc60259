"""`make bench-scale`: documents per minute as workers and concurrent model requests grow.

1. The default `ocr` engine through the real `process-documents` flow (claim, pipeline, store,
   moves, one Prefect task run per document), the same generated documents in a fresh workspace
   each time: 1 worker, 2 worker processes, and a Dask LocalCluster of 2 workers. Wall time from
   the flow call to its end, start-up of the workers included; the ephemeral Prefect API is
   started (and its start-up reported) before the first run.
2. The `openai` engine against the test server (`tests/openai_server.py`, a real loopback HTTP
   server answering a recorded vLLM completion after a fixed latency, standing in for a GPU
   server's time per request) at 1, 4 and 16 concurrent requests: `concurrency` requests allowed
   per server, that many threads each extracting documents (pages prepared beforehand: this
   measures the engine, its image encoding and HTTP, not OCR). Reported: documents/min, latency
   per document p50/p95, the most requests the server saw at once.

    python benchmarks/bench_scale.py [--docs 20] [--latency 0.5] [--requests 48] [--out build/bench-scale.json]

The machine's load average is recorded: on a shared 2-core machine other work changes every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the fixture generator and the test model server

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")


def documents(folder: Path, n: int) -> list[Path]:
    from fixtures.generate import generate

    generate(folder, seed=0, scans=True)
    docs = sorted(p for p in folder.iterdir() if p.suffix not in (".json", ".jsonl"))
    return (docs * (n // len(docs) + 1))[:n] if n > len(docs) else docs[:n]


def start_api() -> float:
    """Start the ephemeral Prefect API (a new database) before any timed run, which would
    otherwise pay for it alone. Returns its start-up time in seconds."""
    from prefect.client.orchestration import get_client

    started = time.perf_counter()
    with get_client(sync_client=True) as client:
        client.hello()
    return round(time.perf_counter() - started, 2)


def flow_run(docs: list[Path], root: Path, workers: int, task_runner: str) -> dict[str, Any]:
    from ledgerlens.flows.process import process_documents
    from ledgerlens.pipeline.intake.workspace import init_workspace

    shutil.rmtree(root, ignore_errors=True)
    ws = init_workspace(root)
    for i, doc in enumerate(docs):  # repeated documents get their own name (and are duplicates)
        shutil.copy(doc, ws.intake / (doc.name if i < len(set(docs)) else f"{i}-{doc.name}"))
    paths = [str(p) for p in sorted(ws.intake.iterdir())]
    started = time.perf_counter()
    summary = process_documents(
        paths, str(ws.root), ws.config(), label="bench", workers=workers, task_runner=task_runner
    )
    seconds = time.perf_counter() - started
    return {
        "workers": workers,
        "task_runner": task_runner,
        "documents": summary["processed"],
        "pages": summary["pages"],
        "seconds": round(seconds, 2),
        "docs_per_min": round(60 * summary["processed"] / seconds, 1),
        "pages_per_min": round(60 * summary["pages"] / seconds, 1),
    }


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=20, help="documents per flow run (default 20)")
    parser.add_argument("--latency", type=float, default=0.5, help="test server seconds per request (0.5)")
    parser.add_argument("--requests", type=int, default=48, help="documents per openai run (48)")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bench-scale.json")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="ledgerlens-bench-scale-") as tmp:
        scratch = Path(tmp)
        os.environ.setdefault("PREFECT_HOME", str(scratch / "prefect"))
        docs = documents(scratch / "samples", args.docs)
        report: dict[str, Any] = {"load_average_before": os.getloadavg(), "cores": os.cpu_count()}
        report["api_start_s"] = start_api()
        print(f"Prefect API (ephemeral, fresh database) started in {report['api_start_s']} s", flush=True)
        runs = []
        for workers, runner in ((1, "process"), (2, "process"), (2, "dask")):
            runs.append(flow_run(docs, scratch / f"ws-{workers}-{runner}", workers, runner))
            print(json.dumps(runs[-1]), flush=True)
        report["ocr_engine_flow"] = runs
        report["speedup_2_workers"] = round(runs[1]["docs_per_min"] / runs[0]["docs_per_min"], 2)
        report["speedup_2_dask_workers"] = round(runs[2]["docs_per_min"] / runs[0]["docs_per_min"], 2)
        invoices = prepared_invoices(scratch / "samples")
        served = []
        for concurrency in (1, 4, 16):
            served.append(openai_run(invoices, concurrency, args.requests, args.latency))
            print(json.dumps(served[-1]), flush=True)
        report["openai_engine"] = served
        report["load_average_after"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"speed-up with 2 workers: {report['speedup_2_workers']}x (Dask: {report['speedup_2_dask_workers']}x)")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
