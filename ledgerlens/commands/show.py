"""`ledgerlens show KEY`: one stored result with its fields, issues and provenance."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ledgerlens.pipeline.chain.routes import route_label
from ledgerlens.pipeline.check.einvoice.view import view_path

from .common import console, open_store, workspace


def cmd_show(args: argparse.Namespace) -> int:
    ws = workspace(args.workspace)
    store = open_store(ws)
    try:
        stored = store.get(args.key)
    finally:
        store.close()
    con = console()
    if stored is None:
        con.print(f"No document matches {args.key!r} (use an id, a sha256 prefix or a file name).")
        return 1
    r = stored.result
    review_url = ws.config().review.document_url(stored.id)
    if args.json:
        print(json.dumps({**_as_json(stored), "review_url": review_url}, indent=2, ensure_ascii=False))
        return 0
    con.print(f"[bold]{r.source_name}[/bold]  id {stored.id}  {r.doc_type}  [bold]{r.status}[/bold]")
    con.print(f"sha256 {r.sha256}  {r.media_type}, {r.page_count} page(s)  file: {r.source_path}")
    readable = view_path(r.source_path, r.provenance)
    if readable:
        einvoice = r.provenance.get("einvoice", {})
        con.print(f"e-invoice {einvoice.get('customization')} ({einvoice.get('syntax')}); readable page: {readable}")
    con.print(f"Review: {review_url}  (ledgerlens review serve)", markup=False, soft_wrap=True)
    fields = r.provenance.get("fields", {})
    from rich.table import Table

    table = Table(title="Fields")
    for col in ("field", "value", "confidence", "page", "found by"):
        table.add_column(col)
    for name, value in r.data.items():
        ev = fields.get(name, {})
        shown = json.dumps(value, ensure_ascii=False) if isinstance(value, (list, dict)) else str(value)
        if isinstance(value, list):
            shown = f"{len(value)} rows"
        conf = r.confidence.get(name)
        table.add_row(
            name, shown[:80], f"{conf:.2f}" if conf is not None else "", str(ev.get("page") or ""), ev.get("source", "")
        )
    con.print(table)
    memory = r.provenance.get("vendor_memory")
    if memory:
        con.print(
            f"Vendor memory: {memory.get('vendor')} ({memory.get('corrections')} correction(s)) gave "
            f"{', '.join(memory.get('fields', [])) or 'no field'}; the rest came from the general finder"
        )
    for name in ("line_items", "transactions"):
        if r.data.get(name):
            _print_rows(con, name, r.data[name])
    if r.issues:
        con.print("[bold]Issues[/bold]")
        for i in r.issues:
            where = f" [{i.field}]" if i.field else ""
            con.print(f"  {i.severity:8s} {i.stage}/{i.code}{where}: {i.message}")
    engine = r.provenance.get("engine", {})
    route = r.provenance.get("route")
    if route:  # [engine.routes]: which route, engine and model read this document
        con.print(f"Read by route {route_label(route)} (input kind {route.get('kind')})")
    con.print(
        f"Provenance: engine {engine.get('engine')} {engine.get('tesseract', '')}, "
        f"schema {r.provenance.get('schema', {}).get('version', '-')}, ledgerlens {r.provenance.get('ledgerlens')}"
    )
    con.print("Timings: " + ", ".join(f"{k} {v:.2f}s" for k, v in r.timings.items()))
    return 0


def _print_rows(con: Any, title: str, rows: list[dict[str, Any]]) -> None:
    from rich.table import Table

    keys = list(dict.fromkeys(k for row in rows for k in row))
    table = Table(title=title)
    for k in keys:
        table.add_column(k)
    for row in rows[:50]:
        table.add_row(*(str(row.get(k, ""))[:50] for k in keys))
    con.print(table)
    if len(rows) > 50:
        con.print(f"... and {len(rows) - 50} more")


def _as_json(stored: Any) -> dict[str, Any]:
    r = stored.result
    return {
        "id": stored.id,
        "sha256": r.sha256,
        "source_name": r.source_name,
        "source_path": r.source_path,
        "view_path": view_path(r.source_path, r.provenance),
        "doc_type": r.doc_type,
        "status": str(r.status),
        "data": r.data,
        "issues": [i.to_dict() for i in r.issues],
        "confidence": r.confidence,
        "provenance": r.provenance,
        "timings": r.timings,
    }


def register(sub: Any) -> None:
    s = sub.add_parser("show", help="one stored result: fields, issues, provenance")
    s.add_argument("key", help="document id, sha256 (prefix) or file name")
    s.add_argument("--workspace")
    s.add_argument("--json", action="store_true", help="print the stored record as JSON")
    s.set_defaults(func=cmd_show)
