"""`ledgerlens export --to xlsx|csv`: the review workbook or the CSV files, from the store."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .common import console, open_store, workspace


def cmd_export(args: argparse.Namespace) -> int:
    from ledgerlens.pipeline.export import export_csv, export_xlsx

    ws = workspace(args.workspace)
    config = ws.config()
    store = open_store(ws)
    try:
        docs = store.all()
    finally:
        store.close()
    con = console()
    if args.to == "xlsx":
        out = Path(args.output) if args.output else ws.root / config.export.xlsx
        out.parent.mkdir(parents=True, exist_ok=True)
        export_xlsx(docs, out, workspace_root=ws.root, review_confidence=config.pipeline.review_confidence)
        con.print(f"Workbook: {out} ({len(docs)} documents)")
    else:
        folder = Path(args.output) if args.output else ws.root / config.export.csv_dir
        paths = export_csv(docs, folder, workspace_root=ws.root)
        con.print(f"CSV files in {folder}: {', '.join(p.name for p in paths)}")
    return 0


def register(sub: Any) -> None:
    s = sub.add_parser("export", help="write the review workbook or the CSV files from the store")
    s.add_argument("--to", choices=("xlsx", "csv"), required=True)
    s.add_argument("--workspace", help="workspace folder (default: the one holding the current folder)")
    s.add_argument("--output", help="file (xlsx) or folder (csv) to write instead of exports/")
    s.set_defaults(func=cmd_export)
