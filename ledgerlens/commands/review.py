"""`ledgerlens review import exports/ledger.xlsx`: the Review sheet's corrections into the store."""

from __future__ import annotations

import argparse
import getpass
import os
from pathlib import Path
from typing import Any

from .common import console, open_store, workspace


def cmd_review_import(args: argparse.Namespace) -> int:
    from ledgerlens.pipeline.books.duplicates import checked_numbers, flag_duplicates
    from ledgerlens.pipeline.books.review import apply_corrections
    from ledgerlens.pipeline.doctypes.schemas import load_schemas
    from ledgerlens.pipeline.export.review_sheet import read_corrections

    path = Path(args.workbook)
    ws = workspace(args.workspace or str(path.resolve().parent))
    user = args.user or os.environ.get("LEDGERLENS_USER") or getpass.getuser()
    corrections = read_corrections(path)
    store = open_store(ws)
    try:
        schemas = load_schemas(ws.schemas_dir)
        report = apply_corrections(store, corrections, schemas, user=user, workspace_root=ws.root, source=str(path))
        flag_duplicates(store, checked_numbers(schemas))  # a corrected vendor, number or total may make or break a duplicate
    finally:
        store.close()
    con = console()
    con.print(
        f"{len(report.applied)} correction(s) and {len(report.accepted)} acceptance(s) applied to "
        f"{len(report.documents)} document(s) by {user}; {len(report.unchanged)} unchanged"
    )
    for c, reason in report.rejected:
        con.print(f"  [red]rejected[/red] row {c.row} (document {c.doc_id}, {c.field}): {reason}")
    if report.examples:
        con.print(f"Labelled examples kept in {ws.root / 'examples'}: {len(report.examples)}")
    return 1 if report.rejected else 0


def register(sub: Any) -> None:
    s = sub.add_parser("review", help="bring the accountant's corrections from the review workbook into the store")
    actions = s.add_subparsers(dest="review_action", required=True)
    imp = actions.add_parser("import", help="read corrected_value / review_status from the Review sheet")
    imp.add_argument("workbook", help="the reviewed workbook, e.g. exports/ledger.xlsx")
    imp.add_argument("--workspace", help="workspace folder (default: the one holding the workbook)")
    imp.add_argument("--user", help="who reviewed (default: $LEDGERLENS_USER or the login name)")
    imp.set_defaults(func=cmd_review_import)
