"""Helpers every command shares: the console and finding the workspace."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def console() -> Any:
    from rich.console import Console

    con = Console()
    # Piped or logged output (make demo, CI) is not wrapped at 80 columns.
    return con if con.is_terminal else Console(width=160)


def workspace(path: str | None) -> Any:
    from ledgerlens.pipeline.intake import find_workspace

    return find_workspace(Path(path) if path else Path.cwd())


def open_store(ws: Any) -> Any:
    from ledgerlens.pipeline.store import Store

    return Store.for_workspace(ws.root, ws.config().store.url)
