"""`ledgerlens export --to FORMAT [--period YYYY-MM] [--since-last]`: a format of the registry
(`pipeline/export/registry.py`), which also decides which documents go out and what is reported."""

from __future__ import annotations

import argparse
from typing import Any

from .common import console, open_store, workspace


def _period(value: str) -> str:
    from ledgerlens.pipeline.errors import ConfigError
    from ledgerlens.pipeline.export.registry import check_period

    try:
        return check_period(value)
    except ConfigError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def cmd_export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ledgerlens.pipeline.export.run import run_export

    ws = workspace(args.workspace)
    store = open_store(ws)
    con = console()
    try:
        output = Path(args.output) if args.output else None
        report = run_export(
            store, ws.root, ws.config(), args.to, period=args.period, since_last=args.since_last, output=output
        )
    finally:
        store.close()
    if report.flagged:
        con.print(f"{report.flagged} document(s) changed by the duplicate check (see the Review sheet).")
    scope = f" for {args.period}" if args.period else ""
    scope += " not exported before" if args.since_last else ""
    con.print(f"{args.to}: {report.documents} document(s){scope} -> {', '.join(str(p) for p in report.files)}")
    if report.unmapped:
        shown = "; ".join(report.unmapped[:10]) + (" ..." if len(report.unmapped) > 10 else "")
        con.print(f"{len(report.unmapped)} vendor(s) without an account, booked to suspense {report.suspense}: {shown}")
    for name, reason in report.left_out:
        con.print(f"  left out: {name} ({reason})")
    return 0


def register(sub: Any) -> None:
    from ledgerlens.pipeline.export.registry import FORMATS

    formats = "; ".join(f"{f.name}: {f.summary}" for f in FORMATS.values())
    s = sub.add_parser("export", help="write the review workbook, the CSV files or an accounting import file")
    s.add_argument("--to", choices=list(FORMATS), required=True, metavar="FORMAT", help=formats)
    s.add_argument("--workspace", help="workspace folder (default: the one holding the current folder)")
    s.add_argument("--output", help="file (xlsx) or folder (other formats) to write instead of exports/")
    s.add_argument("--period", type=_period, help="only documents dated in this month (YYYY-MM) or year (YYYY)")
    s.add_argument(
        "--since-last", action="store_true", help="only documents not exported to this format before; remember these"
    )
    s.set_defaults(func=cmd_export)
