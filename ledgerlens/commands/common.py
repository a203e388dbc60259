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
    """--engine / --model / --quant / --adapter: run with another engine or model than the configuration names."""
    parser.add_argument("--engine", help="engine name (ocr, transformers, ...); default: from the configuration")
    parser.add_argument("--model", help="model id or local folder for a model engine")
    parser.add_argument(
        "--quant", choices=("none", "int8", "8bit", "4bit"), help="int8 on CPU; 8bit/4bit (bitsandbytes) on CUDA"
    )
    parser.add_argument("--adapter", help="LoRA adapter folder for the transformers engine")


def with_engine_args(config: Any, args: Any) -> Any:
    import dataclasses

    engine = config.engine
    if getattr(args, "engine", None):
        engine = dataclasses.replace(engine, name=args.engine)
    if getattr(args, "model", None):
        engine = dataclasses.replace(engine, model=_local_path(args.model))
    if getattr(args, "quant", None):
        engine = dataclasses.replace(engine, options={**engine.options, "quantization": args.quant})
    if getattr(args, "adapter", None):
        engine = dataclasses.replace(engine, adapter=str(Path(args.adapter).expanduser().resolve()))
    return dataclasses.replace(config, engine=engine)


def _local_path(model: str) -> str:
    """A model given as a folder path on the command line, made absolute (relative to where it was typed)."""
    folder = Path(model).expanduser()
    return str(folder.resolve()) if folder.is_dir() else model
