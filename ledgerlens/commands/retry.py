"""`ledgerlens retry [DIR] [FILE...]`: failed documents back into intake/ after a fix."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .common import console, open_store, workspace


def _candidates(ws: Any, names: list[str]) -> list[Path]:
    from ledgerlens.pipeline.intake.workspace import NOTE_SUFFIXES

    if not names:
        return sorted(
            p for p in ws.failed.iterdir() if p.is_file() and not p.is_symlink() and not p.name.endswith(NOTE_SUFFIXES)
        )
    found = []
    for name in names:
        path = ws.failed / Path(name).name
        if not path.is_file() or path.is_symlink():
            from ledgerlens.pipeline.errors import ConfigError

            raise ConfigError(f"no failed document {path.name!r} in {ws.failed} (a link or a pipe is never processed)")
        found.append(path)
    return found


def cmd_retry(args: argparse.Namespace) -> int:
    from ledgerlens.pipeline.intake.claims import finish_send_backs, send_back
    from ledgerlens.pipeline.intake.journal import Journal

    files = list(args.files)
    if args.workspace and not Path(args.workspace).is_dir():  # `retry scan.pdf` inside a workspace
        files.insert(0, args.workspace)
        args.workspace = None
    ws = workspace(args.workspace)
    con = console()
    store = open_store(ws)
    try:
        journal = Journal(store)
        finish_send_backs(ws, journal)
        paths = _candidates(ws, files)
        for path in paths:
            target = send_back(path, ws, journal)
            con.print(f"{path.relative_to(ws.root)} -> {target.relative_to(ws.root)}")
    finally:
        store.close()
    if not paths:
        con.print(f"Nothing to retry: {ws.failed} holds no failed document.")
    else:
        con.print(f"{len(paths)} document(s) back in intake/: `ledgerlens watch` takes them, or `ledgerlens process`.")
    return 0


def register(sub: Any) -> None:
    s = sub.add_parser("retry", help="move failed documents back into intake/ (after fixing the cause)")
    s.add_argument("workspace", nargs="?", help="workspace folder (default: the one holding the current folder)")
    s.add_argument("files", nargs="*", help="file names in failed/ (default: every failed document)")
    s.set_defaults(func=cmd_retry)
