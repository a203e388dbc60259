"""`ledgerlens` command line: init, process, export, show, eval.

The environment is read here and only here. Prefect is told, before it is imported, to send
nothing anywhere (no analytics) and to keep its console logs to warnings unless --verbose.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from ledgerlens import __version__


def _prefect_env(verbose: bool) -> None:
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    # Runs log at INFO to the Prefect API (the UI shows them); the terminal shows our own table,
    # and Prefect's console output only with --verbose.
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO")
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "INFO" if verbose else "CRITICAL")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # weights are never fetched at run time


def _console() -> Any:
    from rich.console import Console

    con = Console()
    # Piped or logged output (make demo, CI) is not wrapped at 80 columns.
    return con if con.is_terminal else Console(width=160)


def _workspace(path: str | None) -> Any:
    from ledgerlens.pipeline.intake import find_workspace

    return find_workspace(Path(path) if path else Path.cwd())


# ------------------------------------------------------------------ init


def cmd_init(args: argparse.Namespace) -> int:
    from ledgerlens.pipeline.intake import init_workspace
    from ledgerlens.pipeline.store import Store

    ws = init_workspace(Path(args.dir))
    config = ws.config()
    Store.for_workspace(ws.root, config.store.url).close()
    con = _console()
    con.print(f"[bold]Workspace ready:[/bold] {ws.root}")
    for name in ("intake", "processing", "done", "failed", "exports"):
        con.print(f"  {name + '/':12s} {ws.root / name}")
    con.print(f"  config       {ws.config_path}")
    con.print(f"\nDrop PDFs or scans into {ws.intake} and run: ledgerlens process {ws.intake}")
    return 0


# ------------------------------------------------------------------ process


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


def cmd_process(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from ledgerlens.flows.process import listening, process_documents
    from ledgerlens.pipeline.intake import list_inputs

    target = Path(args.path) if args.path else Path.cwd()
    ws = _workspace(str(target))
    folder = ws.intake if target.resolve() == ws.root else target.resolve()
    files = list_inputs(folder) if folder.is_dir() else [folder]
    con = _console()
    if not files:
        con.print(f"Nothing to process in {folder}.")
        return 0
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
        task_id = progress.add_task("process", total=len(files), pages=0, rate="", last="")
        with listening(_progress_listener(progress, task_id, started_wall)):
            label = f"{len(files)} document{'s' if len(files) != 1 else ''}"
            process_documents([str(f) for f in files], str(ws.root), label=label)
    _drain_prefect_events()
    _print_results(ws, [f.name for f in files], con)
    con.print(f"{len(files)} document(s) in {time.monotonic() - started_wall:.1f} s")
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

    from ledgerlens.pipeline.store import Store

    store = Store.for_workspace(ws.root, ws.config().store.url)
    try:
        docs = store.all()
    finally:
        store.close()
    if names is not None:
        wanted = set(names)
        docs = [d for d in docs if d.result.source_name in wanted]
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


# ------------------------------------------------------------------ export


def cmd_export(args: argparse.Namespace) -> int:
    from ledgerlens.pipeline.export import export_csv, export_xlsx
    from ledgerlens.pipeline.store import Store

    ws = _workspace(args.workspace)
    config = ws.config()
    store = Store.for_workspace(ws.root, config.store.url)
    try:
        docs = store.all()
    finally:
        store.close()
    con = _console()
    if args.to == "xlsx":
        out = Path(args.output) if args.output else ws.root / config.export.xlsx
        out.parent.mkdir(parents=True, exist_ok=True)
        export_xlsx(docs, out, workspace_root=ws.root, review_confidence=config.pipeline.review_confidence)
        con.print(f"Workbook: {out} ({len(docs)} documents)")
    else:
        folder = Path(args.output) if args.output else ws.root / config.export.csv_dir
        paths = export_csv(docs, folder, workspace_root=ws.root)
        con.print(f"CSV files in {folder}: {', '.join(p.name for p in paths)}")
    return 0


# ------------------------------------------------------------------ show


def cmd_show(args: argparse.Namespace) -> int:
    from ledgerlens.pipeline.store import Store

    ws = _workspace(args.workspace)
    store = Store.for_workspace(ws.root, ws.config().store.url)
    try:
        stored = store.get(args.key)
    finally:
        store.close()
    con = _console()
    if stored is None:
        con.print(f"No document matches {args.key!r} (use an id, a sha256 prefix or a file name).")
        return 1
    r = stored.result
    if args.json:
        print(json.dumps(_as_json(stored), indent=2, ensure_ascii=False))
        return 0
    con.print(f"[bold]{r.source_name}[/bold]  id {stored.id}  {r.doc_type}  [bold]{r.status}[/bold]")
    con.print(f"sha256 {r.sha256}  {r.media_type}, {r.page_count} page(s)  file: {r.source_path}")
    fields = r.provenance.get("fields", {})
    from rich.table import Table

    table = Table(title="Fields")
    for col in ("field", "value", "confidence", "page", "found by"):
        table.add_column(col)
    for name, value in r.data.items():
        ev = fields.get(name, {})
        shown = json.dumps(value, ensure_ascii=False) if isinstance(value, (list, dict)) else str(value)
        if isinstance(value, list):
            shown = f"{len(value)} rows"
        conf = r.confidence.get(name)
        table.add_row(
            name, shown[:80], f"{conf:.2f}" if conf is not None else "", str(ev.get("page") or ""), ev.get("source", "")
        )
    con.print(table)
    for name in ("line_items", "transactions"):
        if r.data.get(name):
            _print_rows(con, name, r.data[name])
    if r.issues:
        con.print("[bold]Issues[/bold]")
        for i in r.issues:
            where = f" [{i.field}]" if i.field else ""
            con.print(f"  {i.severity:8s} {i.stage}/{i.code}{where}: {i.message}")
    engine = r.provenance.get("engine", {})
    con.print(
        f"Provenance: engine {engine.get('engine')} {engine.get('tesseract', '')}, "
        f"schema {r.provenance.get('schema', {}).get('version', '-')}, ledgerlens {r.provenance.get('ledgerlens')}"
    )
    con.print("Timings: " + ", ".join(f"{k} {v:.2f}s" for k, v in r.timings.items()))
    return 0


def _print_rows(con: Any, title: str, rows: list[dict[str, Any]]) -> None:
    from rich.table import Table

    keys = list(dict.fromkeys(k for row in rows for k in row))
    table = Table(title=title)
    for k in keys:
        table.add_column(k)
    for row in rows[:50]:
        table.add_row(*(str(row.get(k, ""))[:50] for k in keys))
    con.print(table)
    if len(rows) > 50:
        con.print(f"... and {len(rows) - 50} more")


def _as_json(stored: Any) -> dict[str, Any]:
    r = stored.result
    return {
        "id": stored.id,
        "sha256": r.sha256,
        "source_name": r.source_name,
        "source_path": r.source_path,
        "doc_type": r.doc_type,
        "status": str(r.status),
        "data": r.data,
        "issues": [i.to_dict() for i in r.issues],
        "confidence": r.confidence,
        "provenance": r.provenance,
        "timings": r.timings,
    }


# ------------------------------------------------------------------ eval


def cmd_eval(args: argparse.Namespace) -> int:
    from ledgerlens.pipeline.config import load_config
    from ledgerlens.pipeline.evaluate import evaluate_datasets

    config = load_config(Path(args.config) if args.config else None)
    report = evaluate_datasets(
        [Path(d) for d in args.datasets], config, out=Path(args.report) if args.report else None, console=_console()
    )
    return 0 if report.documents else 1


# ------------------------------------------------------------------ main


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ledgerlens", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"ledgerlens {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="show Prefect's logs")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("init", help="create a workspace: intake/ processing/ done/ failed/ exports/ ledgerlens.toml")
    s.add_argument("dir")
    s.set_defaults(func=cmd_init)

    s = sub.add_parser("process", help="process every file in an intake folder once (a Prefect flow)")
    s.add_argument("path", nargs="?", help="intake folder, a sub-folder or a file (default: this workspace's intake)")
    s.set_defaults(func=cmd_process)

    s = sub.add_parser("export", help="write the review workbook or the CSV files from the store")
    s.add_argument("--to", choices=("xlsx", "csv"), required=True)
    s.add_argument("--workspace", help="workspace folder (default: the one holding the current folder)")
    s.add_argument("--output", help="file (xlsx) or folder (csv) to write instead of exports/")
    s.set_defaults(func=cmd_export)

    s = sub.add_parser("show", help="one stored result: fields, issues, provenance")
    s.add_argument("key", help="document id, sha256 (prefix) or file name")
    s.add_argument("--workspace")
    s.add_argument("--json", action="store_true", help="print the stored record as JSON")
    s.set_defaults(func=cmd_show)

    s = sub.add_parser("eval", help="accuracy on labelled datasets (bench-gt/1 folders or <doc> + <doc>.json pairs)")
    s.add_argument("datasets", nargs="+")
    s.add_argument("--report", help="folder for report.json, report.md, predictions.jsonl, misses.csv")
    s.add_argument("--config", help="a ledgerlens.toml to evaluate with (engine, OCR settings)")
    s.set_defaults(func=cmd_eval)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _prefect_env(args.verbose)
    from ledgerlens.pipeline.errors import ConfigError

    try:
        return int(args.func(args))
    except ConfigError as e:
        print(f"ledgerlens: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "ledgerlens: interrupted; files being processed stay in processing/ and are picked up again",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
