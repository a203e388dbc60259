"""`ledgerlens eval DATASET...`: accuracy of the pipeline on labelled documents."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .common import add_engine_args, console, with_engine_args


def cmd_eval(args: argparse.Namespace) -> int:
    from ledgerlens.pipeline.config import load_config
    from ledgerlens.pipeline.measure.evaluate import evaluate_datasets

    config = with_engine_args(load_config(Path(args.config) if args.config else None), args)
    if args.compare_adapter:
        return _compare_adapter(args, config)
    report = evaluate_datasets(
        [Path(d) for d in args.datasets],
        config,
        out=Path(args.report) if args.report else None,
        workers=args.workers,
        console=console(),
        split=Path(args.split) if args.split else None,
        read_cache=Path(args.read_cache) if args.read_cache else None,
        learn=args.learn,
    )
    return 0 if report.documents else 1


def _compare_adapter(args: argparse.Namespace, config: Any) -> int:
    """The same datasets read twice: with no adapter, then with the configured ones (--adapter)."""
    import dataclasses
    import json

    from ledgerlens.pipeline.errors import ConfigError
    from ledgerlens.pipeline.measure.evaluate import evaluate_datasets
    from ledgerlens.pipeline.measure.report import compare, print_comparison

    if not (config.engine.adapter or config.engine.adapters):
        raise ConfigError("--compare-adapter needs an adapter: --adapter ADAPTER_DIR (or [engine] adapter)")
    without = dataclasses.replace(config, engine=dataclasses.replace(config.engine, adapter="", adapters={}))
    con = console()
    reports = []
    for label, cfg in (("without", without), ("with", config)):
        con.print(f"[bold]{label} the adapter[/bold]")
        out = Path(args.report) / label if args.report else None
        reports.append(evaluate_datasets([Path(d) for d in args.datasets], cfg, out=out, workers=args.workers))
    rows = compare(*reports)
    print_comparison(rows, con)
    if args.report:
        path = Path(args.report) / "compare.json"
        path.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
        con.print(f"Reports written to {args.report}/without, {args.report}/with and {path}")
    return 0 if reports[1].documents else 1


def register(sub: Any) -> None:
    s = sub.add_parser("eval", help="accuracy on labelled datasets (bench-gt/1 folders or <doc> + <doc>.json pairs)")
    s.add_argument("datasets", nargs="+")
    s.add_argument("--report", help="folder for report.json, report.md, predictions.jsonl, misses.csv")
    s.add_argument("--config", help="a ledgerlens.toml to evaluate with (engine, OCR settings)")
    s.add_argument("--workers", type=int, help="parallel worker processes (default: one per core)")
    s.add_argument("--split", help="a dev split (benchmarks/dev_split.json): report its tune and check parts apart")
    s.add_argument(
        "--read-cache",
        metavar="DIR",
        help="keep and reuse the read stages' output (words per file sha256 + settings) in DIR, e.g. build/read-cache",
    )
    s.add_argument(
        "--learn",
        action="store_true",
        help="documents in file-name order; after scoring each, teach the vendor memory its ground truth",
    )
    s.add_argument("--compare-adapter", action="store_true", help="score without and with the --adapter, side by side")
    add_engine_args(s)
    s.set_defaults(func=cmd_eval)
