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
    from ledgerlens.pipeline.intake.workspace import find_workspace

    return find_workspace(Path(path) if path else Path.cwd())


def open_store(ws: Any) -> Any:
    from ledgerlens.pipeline.books.store import Store

    return Store.for_workspace(ws.root, ws.config().store.url)


def add_engine_args(parser: Any) -> None:
    """--engine / --model / --quant / --adapter / --base-url ...: another engine or model than the configuration's."""
    parser.add_argument("--engine", help="engine name (ocr, transformers, ...); default: from the configuration")
    parser.add_argument("--model", help="model id or local folder for a model engine")
    parser.add_argument(
        "--quant", choices=("none", "int8", "8bit", "4bit"), help="int8 on CPU; 8bit/4bit (bitsandbytes) on CUDA"
    )
    parser.add_argument("--adapter", help="LoRA adapter folder for the transformers engine")
    server = parser.add_argument_group("model server (--engine openai)")
    server.add_argument("--base-url", help="the server's OpenAI-compatible API, e.g. http://127.0.0.1:11434/v1")
    server.add_argument("--preset", help="server preset: ollama, lmstudio, vllm, llamacpp (see ledgerlens.toml)")
    server.add_argument(
        "--allow-remote", action="store_true", help="allow a server on another machine (page images are sent to it)"
    )


def add_scale_args(parser: Any) -> None:
    """--task-runner / --dask-address: where the documents of a run are processed."""
    parser.add_argument(
        "--task-runner",
        choices=("process", "dask"),
        default="process",
        help="process: worker processes here (default); dask: a Dask LocalCluster, or --dask-address",
    )
    parser.add_argument(
        "--dask-address", help="an existing Dask scheduler (tcp://HOST:8786) whose workers run documents"
    )


def with_engine_args(config: Any, args: Any) -> Any:
    import dataclasses

    engine = config.engine
    if getattr(args, "engine", None):  # the engine named for this run reads every document: no routes
        engine = dataclasses.replace(engine, name=args.engine, routes={})
    if getattr(args, "model", None):
        engine = dataclasses.replace(engine, model=_local_path(args.model))
    if getattr(args, "quant", None):
        engine = dataclasses.replace(engine, options={**engine.options, "quantization": args.quant})
    if getattr(args, "adapter", None):
        engine = dataclasses.replace(engine, adapter=str(Path(args.adapter).expanduser().resolve()))
    server = {
        key: value
        for key, value in (
            ("base_url", getattr(args, "base_url", None)),
            ("preset", getattr(args, "preset", None)),
            ("allow_remote", getattr(args, "allow_remote", False) or None),
        )
        if value is not None
    }
    if server:
        engine = dataclasses.replace(engine, options={**engine.options, **server})
    return dataclasses.replace(config, engine=engine)


def _local_path(model: str) -> str:
    """A model given as a folder path on the command line, made absolute (relative to where it was typed)."""
    folder = Path(model).expanduser()
    return str(folder.resolve()) if folder.is_dir() else model
