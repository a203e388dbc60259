"""`ledgerlens review import exports/ledger.xlsx`: the Review sheet's corrections into the store;
`ledgerlens review serve [WORKSPACE]`: the review screen in the browser (`ledgerlens/web/`);
`ledgerlens review correct DOCUMENT --fields FILE.json`: one document's corrections from a file.

All three go through `books.review.apply_corrections` (validation, audit trail, labelled example and
the vendor memory)."""

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
    user = _reviewer(args)
    corrections = read_corrections(path)
    store = open_store(ws)
    try:
        schemas = load_schemas(ws.schemas_dir)
        report = apply_corrections(store, corrections, schemas, user=user, workspace_root=ws.root, source=str(path))
        # A corrected vendor, number or total may make or break a duplicate.
        flag_duplicates(store, checked_numbers(schemas))
    finally:
        store.close()
    return _print_report(report, user, ws)


def _print_report(report: Any, user: str, ws: Any) -> int:
    con = console()
    con.print(
        f"{len(report.applied)} correction(s) and {len(report.accepted)} acceptance(s) applied to "
        f"{len(report.documents)} document(s) by {user}; {len(report.unchanged)} unchanged"
    )
    for c, reason in report.rejected:
        con.print(f"  [red]rejected[/red] row {c.row} (document {c.doc_id}, {c.field}): {reason}")
    if report.examples:
        con.print(f"Labelled examples kept in {ws.root / 'examples'}: {len(report.examples)}")
    if report.taught:
        con.print(f"Vendor memory learned from: {', '.join(dict.fromkeys(report.taught))}")
    for doc_id, why in report.not_taught:
        con.print(f"  vendor memory: nothing learned from document {doc_id}: {why}")
    return 1 if report.rejected else 0


def _reviewer(args: argparse.Namespace) -> str:
    return args.user or os.environ.get("LEDGERLENS_USER") or getpass.getuser()


def cmd_review_serve(args: argparse.Namespace) -> int:
    import asyncio

    import uvicorn

    from ledgerlens.web.app import create_app
    from ledgerlens.web.security import Access

    ws = workspace(args.workspace)
    config = ws.config()
    host = args.host or config.review.host
    port = config.review.port if args.port is None else args.port
    access = Access.build(host, _reviewer(args), args.token, Path(args.users) if args.users else None)
    app = create_app(ws, config, access)
    token = f"?token={args.token}" if args.token else ""

    class Server(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets)
            if self.started:  # bound: print the address that answers (port 0 picks a free one)
                bound = self.servers[0].sockets[0].getsockname()[1] if self.servers else port
                shown = f"[{host}]" if ":" in host else host
                print(f"Review screen for {ws.root}: http://{shown}:{bound}/{token}", flush=True)
                if args.users:
                    print("Each reviewer opens it with ?token=<their token from the users file>.", flush=True)
                print("Press Ctrl+C to stop.", flush=True)

    server = Server(uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False, lifespan="off"))
    asyncio.run(server.serve())
    return 0 if server.started else 1


def read_fields_file(path: Path) -> dict[str, Any]:
    """{field: value} in the schema's field names, as in a review example's "fields"."""
    import json

    from ledgerlens.pipeline.errors import ConfigError

    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ConfigError(f"cannot read {path}: {e}") from e
    if isinstance(body, dict) and isinstance(body.get("fields"), dict):
        body = body["fields"]  # a review example (examples/<file>.json) as it is
    if not isinstance(body, dict) or not body:
        raise ConfigError(f"{path} must hold a JSON object of {{field: value}}")
    return body


def cmd_review_correct(args: argparse.Namespace) -> int:
    import json

    from ledgerlens.pipeline.books.duplicates import checked_numbers, flag_duplicates
    from ledgerlens.pipeline.books.review import Correction, apply_corrections
    from ledgerlens.pipeline.doctypes.schemas import load_schemas

    ws = workspace(args.workspace)
    user = _reviewer(args)
    fields = read_fields_file(Path(args.fields))
    store = open_store(ws)
    try:
        stored = store.get(args.document)
        if stored is None:
            console().print(f"No document matches {args.document!r} (use an id, a sha256 prefix or a file name).")
            return 1
        # Scalars as text, the way a reviewer types them into the workbook; lists (line items) as they are.
        corrections = [
            Correction(i + 1, stored.id, name, v if isinstance(v, (str, list)) else json.dumps(v), "corrected")
            for i, (name, v) in enumerate(fields.items())
        ]
        schemas = load_schemas(ws.schemas_dir)
        report = apply_corrections(
            store, corrections, schemas, user=user, workspace_root=ws.root, source=str(args.fields)
        )
        flag_duplicates(store, checked_numbers(schemas))
    finally:
        store.close()
    return _print_report(report, user, ws)


def register(sub: Any) -> None:
    s = sub.add_parser("review", help="bring the accountant's corrections from the review workbook into the store")
    actions = s.add_subparsers(dest="review_action", required=True)
    imp = actions.add_parser("import", help="read corrected_value / review_status from the Review sheet")
    imp.add_argument("workbook", help="the reviewed workbook, e.g. exports/ledger.xlsx")
    imp.add_argument("--workspace", help="workspace folder (default: the one holding the workbook)")
    imp.add_argument("--user", help="who reviewed (default: $LEDGERLENS_USER or the login name)")
    imp.set_defaults(func=cmd_review_import)
    srv = actions.add_parser("serve", help="the review screen: page images with a box on each value, fix and approve")
    srv.add_argument("workspace", nargs="?", help="workspace folder (default: the one holding the current folder)")
    srv.add_argument("--host", help="address to listen on (default: [review] host, 127.0.0.1)")
    srv.add_argument("--port", type=int, help="port (default: [review] port, 8765; 0: any free port)")
    srv.add_argument("--token", help="every request must carry this token (required on a host other than loopback)")
    srv.add_argument("--users", help='a TOML file with [users] name = "token" lines: each token names its reviewer')
    srv.add_argument("--user", help="who reviews (default: $LEDGERLENS_USER or the login name)")
    srv.set_defaults(func=cmd_review_serve)
    cor = actions.add_parser("correct", help="correct one document's fields from a JSON file {field: value}")
    cor.add_argument("document", help="document id, sha256 (prefix) or file name")
    cor.add_argument("--fields", required=True, help="JSON file of {field: value} in the schema's field names")
    cor.add_argument("--workspace", help="workspace folder (default: the current one)")
    cor.add_argument("--user", help="who corrected (default: $LEDGERLENS_USER or the login name)")
    cor.set_defaults(func=cmd_review_correct)
