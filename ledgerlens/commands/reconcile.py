"""`ledgerlens reconcile [--workspace WS] [--period YYYY-MM]`: which bank line paid which invoice.

Matches the statements' transactions with the open invoices and receipts in the store, keeps
the result (a confident match marks the document paid), writes `exports/reconciliation.csv` and
`exports/open_invoices.csv`, and prints a summary; the workbook's Reconciliation sheet follows
at the next `export --to xlsx`.
"""

from __future__ import annotations

import argparse
from typing import Any

from .common import console, open_store, workspace
from .export import _period


def cmd_reconcile(args: argparse.Namespace) -> int:
    from ledgerlens.pipeline.export.bank.reconciliation import run_reconcile

    ws = workspace(args.workspace)
    store = open_store(ws)
    try:
        report = run_reconcile(store, ws.root, period=args.period)
    finally:
        store.close()
    con = console()
    c = report.counts
    scope = f" in {args.period}" if args.period else ""
    con.print(
        f"reconciliation: {report.lines} bank line(s){scope}: {c['matched']} matched, {c['partial']} partial, "
        f"{c['suggested']} suggested (to review), {c['unmatched']} unmatched"
    )
    overdue = [o for o in report.open_invoices if o.days_overdue(report.as_of)]
    con.print(
        f"{len(report.open_invoices)} invoice(s) still open, {len(overdue)} overdue"
        + (f" on {report.as_of}" if report.as_of else "")
    )
    for o in overdue[:10]:
        con.print(
            f"  overdue: {o.doc.result.source_name} {o.number} {o.vendor}: {o.open} {o.currency}, "
            f"due {o.due} ({o.days_overdue(report.as_of)} days)"
        )
    con.print(f"-> {', '.join(str(p) for p in report.files)}")
    return 0


def register(sub: Any) -> None:
    s = sub.add_parser("reconcile", help="match bank transactions with open invoices and receipts; mark them paid")
    s.add_argument("--workspace", help="workspace folder (default: the one holding the current folder)")
    s.add_argument("--period", type=_period, help="only the transactions of this month (YYYY-MM) or year (YYYY)")
    s.set_defaults(func=cmd_reconcile)
