"""`ledgerlens vendors list|forget NAME`: what the workspace's vendor memory knows, and forgetting it."""

from __future__ import annotations

import argparse
from typing import Any

from .common import console, open_store, workspace


def _memory(ws: Any, store: Any) -> Any:
    from ledgerlens.pipeline.books.vendors import StoreVendorMemory, workspace_key

    return StoreVendorMemory(store, workspace_key(ws.root))


def cmd_vendors_list(args: argparse.Namespace) -> int:
    from rich.table import Table

    ws = workspace(args.workspace)
    store = open_store(ws)
    try:
        vendors = _memory(ws, store).vendors()
    finally:
        store.close()
    con = console()
    if not vendors:
        con.print("The vendor memory is empty: corrections (`review import`, `review correct`) teach it.")
        return 0
    table = Table(title=f"Vendor memory of {ws.root}")
    for col in ("id", "vendor", "type", "corrections", "fields learned", "keys", "updated"):
        table.add_column(col)
    for v in vendors:
        table.add_row(str(v.id), v.name, v.doc_type, str(v.corrections), ", ".join(v.fields), str(v.keys),
                      v.updated_at.isoformat(timespec="seconds"))  # fmt: skip
    con.print(table)
    return 0


def cmd_vendors_forget(args: argparse.Namespace) -> int:
    ws = workspace(args.workspace)
    store = open_store(ws)
    try:
        gone = _memory(ws, store).forget(args.name)
    finally:
        store.close()
    con = console()
    if not gone:
        con.print(f"No vendor named {args.name!r} in the memory (see `ledgerlens vendors list`).")
        return 1
    con.print(f"Forgotten: {', '.join(gone)}")
    return 0


def register(sub: Any) -> None:
    s = sub.add_parser("vendors", help="the vendor memory: what corrections taught about each vendor")
    actions = s.add_subparsers(dest="vendors_action", required=True)
    ls = actions.add_parser("list", help="the vendors the memory knows, with the fields it learned")
    ls.add_argument("--workspace")
    ls.set_defaults(func=cmd_vendors_list)
    fg = actions.add_parser("forget", help="forget a vendor (by name or id): its documents are read as new again")
    fg.add_argument("name", help="the vendor's name as `vendors list` shows it, or its id")
    fg.add_argument("--workspace")
    fg.set_defaults(func=cmd_vendors_forget)
