"""`ledgerlens process PATH`: every file waiting in intake, once, through the Prefect flow."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

from .common import add_engine_args, add_scale_args, console, open_store, with_engine_args, workspace


def _progress_listener(progress: Any, task_id: Any, started: float) -> Any:
    pages = 0

    def on_result(result: Any, done: int) -> None:
        nonlocal pages
        pages += result.page_count
        elapsed = max(time.monotonic() - started, 1e-6)
        progress.update(
            task_id,
            advance=1,
            pages=pages,
            rate=f"{60 * done / elapsed:.1f} docs/min, {60 * pages / elapsed:.1f} pages/min",
            last=result.source_name[:40],
        )

    return on_result


def _unlisted(into: list[Any]) -> Any:
    """Outcomes the results table cannot show: duplicates, and files never opened (links, pipes)."""

    def on_result(outcome: Any, done: int) -> None:
        if outcome.state == "duplicate" or outcome.document_id is None:
            into.append(outcome)

    return on_result


def cmd_process(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from ledgerlens.flows.process import listening, process_documents
    from ledgerlens.pipeline.engines import check_engine
    from ledgerlens.pipeline.errors import ConfigError
    from ledgerlens.pipeline.intake.workspace import list_inputs

    target = Path(args.path) if args.path else Path.cwd()
    ws = workspace(str(target))
    folder = ws.intake if target.resolve() == ws.root else target.resolve()
    for kept in (ws.processing, ws.done, ws.failed, ws.exports):
        if folder.is_relative_to(kept.resolve()):
            raise ConfigError(
                f"`process` takes documents from {ws.intake} (a file or sub-folder of it), not from {kept.name}/"
                + (": `ledgerlens retry` sends failed ones back to intake" if kept == ws.failed else "")
            )
    files = list_inputs(folder) if folder.is_dir() else [folder]
    # Left in processing/ by an earlier run that crashed or could not process them: run first.
    waiting = [p for p in ws.processing.iterdir() if p.is_file() and not p.name.startswith(".")]
    con = console()
    if not files and not waiting:
        con.print(f"Nothing to process in {folder}.")
        return 0
    if waiting:  # queued already: the flow runs them without claiming them again
        con.print(f"{len(waiting)} document(s) left in {ws.processing} by an earlier run are processed first.")
    config = with_engine_args(ws.config(), args)
    check_engine(config)  # before the progress bar: a missing model is said alone
    started_wall = time.monotonic()
    columns = (
        TextColumn("[bold]processing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("docs · {task.fields[pages]} pages · {task.fields[rate]}"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[last]}"),
    )
    with Progress(*columns, console=con, transient=False) as progress:
        task_id = progress.add_task("process", total=len(waiting) + len(files), pages=0, rate="", last="")
        aside: list[Any] = []
        with listening(_progress_listener(progress, task_id, started_wall)), listening(_unlisted(aside)):
            label = f"{len(files)} document{'s' if len(files) != 1 else ''}"
            scale = {"task_runner": args.task_runner, "dask_address": args.dask_address or ""}
            # --engine/--model/... are in `config` already; workers 0: the engine's default.
            summary = process_documents(
                [str(f) for f in files], str(ws.root), config, label=label, workers=args.workers, **scale
            )
    _drain_prefect_events()
    _print_results(ws, [f.name for f in waiting + files], con)
    for outcome in aside:
        con.print(f"{outcome.state}: {outcome.name} -> {outcome.path}: {outcome.reason}")
    con.print(f"{len(waiting) + len(files)} document(s) in {time.monotonic() - started_wall:.1f} s")
    broken = summary.get("broken", [])
    for line in broken:
        con.print(f"[red]not processed[/]: {line}")
    if broken:
        con.print(
            f"{len(broken)} document(s) wait in {ws.processing}: the run could not process them "
            "(above, why). Fix that, then run `ledgerlens process` again: they are picked up first."
        )
        return 1
    return 0


def _drain_prefect_events() -> None:
    """Let the local (ephemeral) Prefect API record the last events before this process exits."""
    if os.environ.get("PREFECT_API_URL"):
        return
    from prefect.events.worker import EventsWorker

    EventsWorker.drain_all()
    time.sleep(1.0)


def _print_results(ws: Any, names: list[str] | None, con: Any) -> None:
    from rich.table import Table

    store = open_store(ws)
    try:
        docs = store.all()
    finally:
        store.close()
    if names is not None:
        wanted = set(names)
        docs = [d for d in docs if d.result.source_name in wanted]
    if not docs:  # nothing was stored (every file set aside, or the run could not process them)
        return
    table = Table(title="Documents")
    for col in ("id", "document", "type", "status", "total", "issues"):
        table.add_column(col, justify="right" if col in ("id", "total") else "left")
    colours = {"ok": "green", "needs_review": "yellow", "failed": "red"}
    for d in docs:
        r = d.result
        total = r.data.get("total_amount", "")
        if total and r.data.get("currency"):
            total = f"{total} {r.data['currency']}"
        issues = f"{len(r.issues)} ({', '.join(sorted({i.code for i in r.issues}))})" if r.issues else "0"
        status = f"[{colours.get(str(r.status), 'white')}]{r.status}[/]"
        table.add_row(str(d.id), r.source_name, r.doc_type, status, str(total), issues)
    con.print(table)


def register(sub: Any) -> None:
    s = sub.add_parser("process", help="process every file in an intake folder once (a Prefect flow)")
    s.add_argument("path", nargs="?", help="intake folder, a sub-folder or a file (default: this workspace's intake)")
    s.add_argument(
        "--workers",
        type=int,
        default=0,
        help="documents at once (default: the engine's; ocr: one per physical core)",
    )
    add_scale_args(s)
    add_engine_args(s)
    s.set_defaults(func=cmd_process)
