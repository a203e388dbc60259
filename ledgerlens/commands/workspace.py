"""`ledgerlens init DIR [--chart NAME]`: create a workspace; with a chart, its accounts.toml."""

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
    chart = _write_chart(ws.root, args.chart, args.force) if args.chart else None
    con.print(f"[bold]Workspace ready:[/bold] {ws.root}")
    for name in ("intake", "processing", "done", "failed", "exports"):
        con.print(f"  {name + '/':12s} {ws.root / name}")
    con.print(f"  config       {ws.config_path}")
    if chart is not None:
        con.print(f"  accounts     {chart} (starter chart {args.chart}: map your vendors there)")
    con.print(f"\nDrop PDFs or scans into {ws.intake} and run: ledgerlens process {ws.intake}")
    return 0


def _write_chart(root: Path, name: str, force: bool) -> Path:
    """accounts.toml from starter chart `name`; an existing, different file is kept unless `force`."""
    from ledgerlens.pipeline.errors import ConfigError
    from ledgerlens.pipeline.export.accounts import FILE_NAME, load_accounts
    from ledgerlens.pipeline.export.chart import starter_text

    text, path = starter_text(name), root / FILE_NAME
    if path.exists() and path.read_text(encoding="utf-8") != text and not force:
        raise ConfigError(f"{path} exists; move it away or add --force to replace it with the {name} chart")
    path.write_text(text, encoding="utf-8")
    load_accounts(root)  # the starter chart must read back
    return path


def register(sub: Any) -> None:
    from ledgerlens.pipeline.export.chart import starter_names

    s = sub.add_parser("init", help="create a workspace: intake/ processing/ done/ failed/ exports/ ledgerlens.toml")
    s.add_argument("dir")
    s.add_argument(
        "--chart",
        choices=starter_names(),
        metavar="NAME",
        help="also write accounts.toml from a starter chart that the import target accepts: "
        + ", ".join(starter_names()),
    )
    s.add_argument("--force", action="store_true", help="with --chart: replace an existing accounts.toml")
    s.set_defaults(func=cmd_init)
