"""`ledgerlens init DIR`: create a workspace."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .common import console, open_store


def cmd_init(args: argparse.Namespace) -> int:
    from ledgerlens.pipeline.intake.workspace import init_workspace

    ws = init_workspace(Path(args.dir))
    open_store(ws).close()  # creates ledgerlens.db and its tables
    con = console()
    con.print(f"[bold]Workspace ready:[/bold] {ws.root}")
    for name in ("intake", "processing", "done", "failed", "exports"):
        con.print(f"  {name + '/':12s} {ws.root / name}")
    con.print(f"  config       {ws.config_path}")
    con.print(f"\nDrop PDFs or scans into {ws.intake} and run: ledgerlens process {ws.intake}")
    return 0


def register(sub: Any) -> None:
    s = sub.add_parser("init", help="create a workspace: intake/ processing/ done/ failed/ exports/ ledgerlens.toml")
    s.add_argument("dir")
    s.set_defaults(func=cmd_init)
