"""`ledgerlens export --to xlsx|csv|journal|quickbooks|xero|datev [--period YYYY-MM] [--since-last]`.

Every format is a function of the store: the same documents give the same bytes. Before writing,
duplicate invoices across the store are flagged (an issue on the later one). `--period` keeps the
documents dated in that month (or year); `--since-last` those not yet exported to this target,
and records the ones written so the next `--since-last` leaves them out.
"""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .common import console, open_store, workspace

TARGETS = ("xlsx", "csv", "journal", "quickbooks", "xero", "datev")
ACCOUNTING = {"journal": "journal.csv", "quickbooks": "quickbooks_bills.csv", "xero": "xero_bills.csv"}


def _period(value: str) -> str:
    if not re.fullmatch(r"\d{4}(-(0[1-9]|1[0-2]))?", value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a period: use YYYY-MM or YYYY")
    return value


def _suffixed(name: str, period: str | None) -> str:
    stem, _, ext = name.rpartition(".")
    return f"{stem}_{period}.{ext}" if period else name


def cmd_export(args: argparse.Namespace) -> int:
    from ledgerlens.pipeline.books.audit import exported, mark_exported
    from ledgerlens.pipeline.books.duplicates import flag_duplicates
    from ledgerlens.pipeline.export.accounts import load_accounts
    from ledgerlens.pipeline.export.ledger import build_ledger, in_period

    ws = workspace(args.workspace)
    config = ws.config()
    accounts = load_accounts(ws.root)
    store = open_store(ws)
    con = console()
    try:
        flagged = flag_duplicates(store)
        docs = [d for d in store.all() if in_period(d, args.period)]
        if args.since_last:
            done = exported(store, args.to)
            docs = [d for d in docs if d.result.sha256 not in done]
        written = _write(args, ws, config, docs, accounts)
        if args.since_last:
            mark_exported(store, args.to, [d.result.sha256 for d in docs], datetime.now(UTC), str(written[0]))
    finally:
        store.close()
    if flagged:
        con.print(f"{flagged} document(s) changed by the duplicate check (see the Review sheet).")
    scope = f" for {args.period}" if args.period else ""
    scope += " not exported before" if args.since_last else ""
    con.print(f"{args.to}: {len(docs)} document(s){scope} -> {', '.join(str(p) for p in written)}")
    if args.to in ACCOUNTING or args.to == "datev":
        ledger = build_ledger(docs, accounts)
        unmapped = sorted({e.counterparty for e in ledger.entries if not e.mapped})
        if unmapped:
            con.print(f"{len(unmapped)} vendor(s) without an account, booked to suspense {accounts.suspense}: "
                      + "; ".join(unmapped[:10]) + (" ..." if len(unmapped) > 10 else ""))  # fmt: skip
        for doc, reason in ledger.skipped:
            con.print(f"  left out: {doc.result.source_name} ({reason})")
    return 0


def _write(args: argparse.Namespace, ws: Any, config: Any, docs: list[Any], accounts: Any) -> list[Path]:
    from ledgerlens.pipeline.export import export_csv, export_xlsx
    from ledgerlens.pipeline.export.bills import export_quickbooks, export_xero
    from ledgerlens.pipeline.export.datev import export_datev
    from ledgerlens.pipeline.export.journal import export_journal

    if args.to == "xlsx":
        out = Path(args.output) if args.output else ws.root / _suffixed(config.export.xlsx, args.period)
        export_xlsx(
            docs, out, workspace_root=ws.root, review_confidence=config.pipeline.review_confidence, accounts=accounts
        )
        return [out]
    if args.to == "csv":
        folder = Path(args.output) if args.output else ws.root / config.export.csv_dir
        return export_csv(docs, folder, workspace_root=ws.root)
    folder = Path(args.output) if args.output else ws.exports / "accounting"
    if args.to == "datev":
        return export_datev(docs, folder, accounts) or [folder]
    name = _suffixed(ACCOUNTING[args.to], args.period)
    writer = {"journal": export_journal, "quickbooks": export_quickbooks, "xero": export_xero}[args.to]
    return [writer(docs, folder / name, accounts)]


def register(sub: Any) -> None:
    s = sub.add_parser("export", help="write the review workbook, the CSV files or an accounting import file")
    s.add_argument("--to", choices=TARGETS, required=True)
    s.add_argument("--workspace", help="workspace folder (default: the one holding the current folder)")
    s.add_argument("--output", help="file (xlsx) or folder (other formats) to write instead of exports/")
    s.add_argument("--period", type=_period, help="only documents dated in this month (YYYY-MM) or year (YYYY)")
    s.add_argument(
        "--since-last", action="store_true", help="only documents not exported to this format before; remember these"
    )
    s.set_defaults(func=cmd_export)
