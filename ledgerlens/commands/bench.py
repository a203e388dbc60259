"""`ledgerlens bench DOCS_DIR [--workers N]`: pages per minute, per stage, against bare Tesseract."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from .common import add_engine_args, console, with_engine_args

TARGETS = {"overhead_ratio": 0.9, "scaling_ratio": 1.8, "born_digital_speedup": 10.0}


def cmd_bench(args: argparse.Namespace) -> int:
    from rich.table import Table

    from ledgerlens.pipeline.config import load_config
    from ledgerlens.pipeline.measure.bench import bench

    config = with_engine_args(load_config(Path(args.config) if args.config else None), args)
    con = console()
    con.print(f"benchmarking {args.docs} ...")
    report = bench(Path(args.docs), config, args.workers, args.repeat)
    title = f"ledgerlens bench ({report['documents']} documents, {report['workers']} workers"
    table = Table(title=title + f"; fastest of {args.repeat} interleaved runs after the first)")
    for col in ("run", "docs", "pages", "seconds", "pages/min"):
        table.add_column(col, justify="left" if col == "run" else "right")
    for r in report["runs"]:
        table.add_row(
            r["label"], str(r["documents"]), str(r["pages"]), f"{r['seconds']:.2f}", f"{r['pages_per_min']:.1f}"
        )
    con.print(table)
    stages = report["runs"][0]["stages_s"]
    con.print("Stage time, all documents (s): " + ", ".join(f"{k} {v:.2f}" for k, v in stages.items()))
    for key, target in TARGETS.items():
        if key in report:
            verdict = "meets" if report[key] >= target else "BELOW"
            con.print(f"{key}: {report[key]} ({verdict} the target {target})")
    rss = report["peak_rss_mb"]
    con.print(f"Peak memory: main process {rss['main']} MB, largest worker or tesseract {rss['largest_child']} MB")
    if args.report:
        Path(args.report).parent.mkdir(parents=True, exist_ok=True)
        Path(args.report).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        con.print(f"Written to {args.report}")
    return 0


def register(sub: Any) -> None:
    s = sub.add_parser("bench", help="speed: pages/min end to end, per stage, against bare tesseract")
    s.add_argument("docs", help="a folder of documents (PDF, PNG, JPEG, TIFF)")
    s.add_argument("--workers", type=int, help="worker processes (default: physical cores)")
    s.add_argument("--config", help="a ledgerlens.toml to run with")
    s.add_argument("--repeat", type=int, default=3, help="runs of each compared pass; the fastest counts (default 3)")
    s.add_argument("--report", help="write the figures as JSON to this file")
    add_engine_args(s)
    s.set_defaults(func=cmd_bench)
