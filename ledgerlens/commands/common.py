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


def add_engine_args(parser: Any) -> None:
    """--engine / --model: run with another engine than the workspace's configuration names."""
    parser.add_argument("--engine", help="engine name (ocr, transformers, ...); default: from the configuration")
    parser.add_argument("--model", help="model id or local folder for a model engine")


def with_engine_args(config: Any, args: Any) -> Any:
    import dataclasses

    engine = config.engine
    if getattr(args, "engine", None):
        engine = dataclasses.replace(engine, name=args.engine)
    if getattr(args, "model", None):
        engine = dataclasses.replace(engine, model=args.model)
    return dataclasses.replace(config, engine=engine)
