"""`ledgerlens status [DIR]`: where every file is, whether a watcher runs, the last failures and why."""

from __future__ import annotations

import argparse
import json
from typing import Any

from .common import console, open_store, workspace


def status_of(ws: Any, failures: int) -> dict[str, Any]:
    from ledgerlens.pipeline.intake.claims import CLAIM_LOCK
    from ledgerlens.pipeline.intake.journal import Journal
    from ledgerlens.pipeline.intake.watcher import scan
    from ledgerlens.pipeline.intake.workspace import lock_holder, workspace_lock

    store = open_store(ws)
    try:
        journal = Journal(store)
        counts = journal.counts()
        last = journal.failures(failures)
        documents: dict[str, int] = {}
        for doc in store.all():
            documents[str(doc.result.status)] = documents.get(str(doc.result.status), 0) + 1
    finally:
        store.close()
    with workspace_lock(ws, CLAIM_LOCK, wait=False) as free:
        watcher = None if free else lock_holder(ws, CLAIM_LOCK)
    return {
        "workspace": str(ws.root),
        "watcher_pid": watcher,
        "waiting_in_intake": len(scan(ws.intake)),
        "files": {state: counts.get(state, 0) for state in ("queued", "done", "duplicate", "failed", "gone", "retried")}
        | {"in_flight": counts.get("claiming", 0) + counts.get("finishing", 0)},
        "documents": documents,
        "last_failures": [
            {
                "file": row.name,
                "path": row.path,
                "when": row.updated_at.isoformat(timespec="seconds"),
                "stage": row.stage,
                "code": row.code,
                "reason": row.reason,
                "tries": row.tries,
            }
            for row in last
        ],
    }


def cmd_status(args: argparse.Namespace) -> int:
    ws = workspace(args.workspace)
    info = status_of(ws, args.failures)
    if args.json:
        print(json.dumps(info, indent=2, ensure_ascii=False))
        return 0
    from rich.table import Table

    con = console()
    watcher = f"running (pid {info['watcher_pid']})" if info["watcher_pid"] else "not running"
    con.print(f"[bold]{ws.root}[/bold]  watcher: {watcher}")
    files = info["files"]
    con.print(
        f"intake/ {info['waiting_in_intake']} waiting · processing/ {files['queued'] + files['in_flight']} · "
        f"done/ {files['done']} (+{files['duplicate']} duplicates) · failed/ {files['failed']}"
        + (f" · retried {files['retried']}" if files["retried"] else "")
        + (f" · removed by hand {files['gone']}" if files["gone"] else "")
    )
    docs = info["documents"]
    con.print("store: " + (", ".join(f"{k} {v}" for k, v in sorted(docs.items())) or "no documents yet"))
    if info["last_failures"]:
        table = Table(title="Last failures")
        for col in ("file", "when", "stage/code", "reason", "tries"):
            table.add_column(col)
        for f in info["last_failures"]:
            table.add_row(f["path"], f["when"], f"{f['stage']}/{f['code']}", f["reason"] or "", str(f["tries"]))
        con.print(table)
        con.print("Fix the cause, then: ledgerlens retry " + str(ws.root) + " [FILE]")
    return 0


def register(sub: Any) -> None:
    s = sub.add_parser("status", help="files per state (intake, processing, done, failed) and the last failures")
    s.add_argument("workspace", nargs="?", help="workspace folder (default: the one holding the current folder)")
    s.add_argument("--failures", type=int, default=10, help="how many recent failures to list (10)")
    s.add_argument("--json", action="store_true", help="print the status as JSON")
    s.set_defaults(func=cmd_status)
