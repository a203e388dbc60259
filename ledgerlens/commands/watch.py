"""`ledgerlens watch [DIR]`: a long-running, Prefect-served service that processes intake/."""

from __future__ import annotations

import argparse
import os
from typing import Any

from .common import add_scale_args, console, workspace


def cmd_watch(args: argparse.Namespace) -> int:
    # The runner asks the API for runs to start this often (Prefect's default, 10 s, is slow to react).
    os.environ.setdefault("PREFECT_RUNNER_POLL_FREQUENCY", "2")
    from ledgerlens.flows.scale import Scale
    from ledgerlens.flows.watch import WatchOptions, check_api, deployment_name, watch
    from ledgerlens.pipeline.engines import check_engine, default_workers

    ws = workspace(args.workspace)
    config = ws.config()  # read once: the served flow gets it as a parameter
    check_engine(config)  # a bad ledgerlens.toml or a missing model stops us here, not in a flow run
    check_api()
    opts = WatchOptions(
        workers=args.workers or default_workers(config),
        poll_s=args.poll,
        stable_s=args.stable,
        max_tries=args.tries,
        linger_s=args.linger,
        task_runner=args.task_runner,
        dask_address=args.dask_address or "",
    )
    scale = Scale(opts.task_runner, opts.dask_address)  # a bad combination stops us here
    con = console()
    con.print(
        f"Watching [bold]{ws.intake}[/bold] every {opts.poll_s:g} s "
        f"(files unchanged for {opts.stable_s:g} s are taken), {scale.describe(opts.workers)}.\n"
        f"Prefect deployment: process-intake/{deployment_name(ws)}"
        + (f" on {os.environ['PREFECT_API_URL']}" if os.environ.get("PREFECT_API_URL") else " (local API)")
        + ". Stop with Ctrl-C."
    )
    colours = {"done": "green", "duplicate": "cyan", "failed": "red"}

    def report(row: Any) -> None:
        why = f": {row.reason}" if row.state != "done" and row.reason else ""
        source = f"{row.folder}/{row.name}" if row.folder else row.name
        con.print(f"[{colours.get(row.state, 'white')}]{row.state:9s}[/] {source} -> {row.path}{why}")

    watch(ws, opts, config, report)
    return 0


def _positive(value: str) -> float:
    number = float(value)
    if number < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return number


def register(sub: Any) -> None:
    s = sub.add_parser("watch", help="serve a Prefect flow that processes every file dropped into intake/")
    s.add_argument("workspace", nargs="?", help="workspace folder (default: the one holding the current folder)")
    s.add_argument(
        "--workers",
        type=int,
        default=0,
        help="documents at once (default: the engine's; ocr: one per physical core)",
    )
    s.add_argument("--poll", type=_positive, default=5.0, help="seconds between looks at intake/ (default 5)")
    s.add_argument(
        "--stable", type=_positive, default=5.0, help="seconds a file must stay unchanged before it is taken (5)"
    )
    s.add_argument("--tries", type=int, default=3, help="tries for a transient failure, e.g. a model timeout (3)")
    s.add_argument(
        "--linger", type=_positive, default=30.0, help="seconds a flow run waits for more files before it ends (30)"
    )
    add_scale_args(s)
    s.set_defaults(func=cmd_watch)
