"""`ledgerlens record FILE... --to FOLDER`: recordings for the replay engine, made with a real one."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .common import add_engine_args, console, with_engine_args


def cmd_record(args: argparse.Namespace) -> int:
    from ledgerlens.pipeline.chain import Context
    from ledgerlens.pipeline.chain.record import record_file
    from ledgerlens.pipeline.config import load_config

    config = with_engine_args(load_config(Path(args.config) if args.config else None), args)
    ctx = Context.create(config)
    folder = Path(args.to)
    con = console()
    missed = 0
    for name in args.files:
        recorded = record_file(Path(name), ctx, folder)
        r = recorded.result
        if recorded.path is None:
            missed += 1
            con.print(f"{name}: not recorded, it fails before it is read ({r.failure_reason})")
        else:
            con.print(f"{name}: {r.doc_type}, {r.status} -> {recorded.path}")
    return 1 if missed else 0


def register(sub: Any) -> None:
    s = sub.add_parser(
        "record",
        help='record what an engine reads and answers on documents, for `[engine] name = "replay"`',
    )
    s.add_argument("files", nargs="+", help="documents to record")
    s.add_argument("--to", required=True, help="folder of recordings (one <sha256>.json per document)")
    s.add_argument("--config", help="a ledgerlens.toml to record with (engine, OCR settings)")
    add_engine_args(s)
    s.set_defaults(func=cmd_record)
