"""`ledgerlens export --to FORMAT [--period YYYY-MM] [--since-last] [--check | --allow-incomplete]`: a
format of the registry (`pipeline/export/registry.py`), which also decides which documents go out,
what the import target would refuse and what is reported. Rows the target would refuse stop the
export (exit 1) unless `--allow-incomplete` leaves their documents out; `--check` only lists them."""

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

    from ledgerlens.pipeline.export.rules import ExportRefused
    from ledgerlens.pipeline.export.run import run_export

    ws = workspace(args.workspace)
    store = open_store(ws)
    con = console()
    try:
        output = Path(args.output) if args.output else None
        report = run_export(
            store, ws.root, ws.config(), args.to, period=args.period, since_last=args.since_last, output=output,
            allow_incomplete=args.allow_incomplete, check_only=args.check,
        )  # fmt: skip
    except ExportRefused as e:
        con.print(f"{args.to}: nothing written; {len(e.refusals)} row(s) would be refused:", markup=False)
        _print_refusals(con, e.refusals)
        if any(r.doc_id is None for r in e.refusals):
            con.print("Fix the configuration (accounts.toml) first: the file as a whole would be refused.")
        else:
            con.print("Fix them (accounts.toml, or the documents on the Review sheet), or write the file without "
                      "them: --allow-incomplete", markup=False)  # fmt: skip
        return 1
    finally:
        store.close()
    if args.check:
        return _report_check(con, args.to, report)
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
    if report.refused:
        docs = len({r.doc_id for r in report.refused})
        con.print(
            f"{docs} document(s) left out: the target would refuse these rows (the Review sheet lists them "
            "when accounts.toml's [chart] target is this format):",
            markup=False,
        )
        _print_refusals(con, report.refused)
    return 0


def _print_refusals(con: Any, refusals: list[Any]) -> None:
    for r in refusals:
        con.print(f"  refused: {r}", markup=False, highlight=False, soft_wrap=True)


def _report_check(con: Any, name: str, report: Any) -> int:
    """`--check`: what would be refused; exit 1 when anything would be."""
    if not report.refused:
        con.print(f"{name}: {report.documents} document(s) checked, nothing would be refused.")
        return 0
    docs = len({r.doc_id for r in report.refused if r.doc_id is not None})
    con.print(f"{name}: {len(report.refused)} row(s) of {docs} document(s) would be refused:", markup=False)
    _print_refusals(con, report.refused)
    return 1


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
    mode = s.add_mutually_exclusive_group()
    mode.add_argument(
        "--check",
        action="store_true",
        help="run the target's import rules and list what would be refused; write nothing",
    )
    mode.add_argument(
        "--allow-incomplete",
        action="store_true",
        help="write the file without the documents the target would refuse, and list them (default: write nothing)",
    )
    s.set_defaults(func=cmd_export)
