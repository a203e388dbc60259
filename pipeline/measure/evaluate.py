"""`ledgerlens eval`: run the pipeline over labelled documents and score every labelled field.

Datasets are folders in the `bench-gt/1` layout (manifest.jsonl + <name>.gt.json), or plain
folders of `<doc>` + `<doc>.json` pairs (e.g. reviewed corrections). Documents run through the
same stages as production, without Prefect, in a pool of worker processes.

`--split FILE` (benchmarks/dev_split.json) reports the *tune* and *check* parts apart;
`--read-cache DIR` reuses the read stages' output (readcache.py); `--learn` runs the documents
one after another and teaches the vendor memory each one's ground truth once it is scored
(learning.py).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledgerlens.pipeline.config import Config
from ledgerlens.pipeline.engines import default_workers
from ledgerlens.pipeline.errors import ConfigError
from ledgerlens.pipeline.measure.learning import evaluate_learning
from ledgerlens.pipeline.measure.pool import WorkerPool
from ledgerlens.pipeline.measure.report import Report, print_report, write_report

META_KEYS = {"doc_type", "document", "schema", "source", "notes"}
DOC_SUFFIXES = {".pdf", ".png", ".jpg", ".jpeg", ".tif", ".tiff"}


@dataclass(frozen=True)
class Case:
    dataset: str
    path: Path  # the file the pipeline reads
    document: str  # the name reported (the ground truth's document name)
    doc_type: str | None  # expected type, mapped to ours; None when unlabelled
    fields: dict[str, Any]
    part: str = ""  # "tune" or "check" under a dev split (`--split`), else ""


def our_doc_type(label: str | None) -> str | None:
    """Benchmark types to ours: every kind of invoice and credit note is an invoice."""
    if not label:
        return None
    if "invoice" in label or label in ("credit_note", "debit_note"):
        return "invoice"
    return label


def label_fields(gt: dict[str, Any]) -> dict[str, Any]:
    """The labelled fields of a ground-truth or example file (normalised values where given)."""
    if "fields" in gt:
        return {**gt["fields"], **gt.get("fields_normalized", {})}
    return {k: v for k, v in gt.items() if k not in META_KEYS}


def load_cases(folder: Path) -> list[Case]:
    if not folder.is_dir():
        raise ConfigError(f"{folder} is not a folder")
    manifest = folder / "manifest.jsonl"
    cases: list[Case] = []
    if manifest.exists():
        for line in manifest.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            m = json.loads(line)
            gt_path = folder / m.get("gt", Path(m["document"]).stem + ".gt.json")
            gt = json.loads(gt_path.read_text(encoding="utf-8"))
            path = folder / m.get("input", gt.get("document_without_embedded_xml") or m["document"])
            cases.append(Case(folder.name, path, m["document"], our_doc_type(gt.get("doc_type")), label_fields(gt)))
        return cases
    for doc in sorted(p for p in folder.iterdir() if p.suffix.lower() in DOC_SUFFIXES):
        for label in (doc.with_name(doc.name + ".json"), doc.with_suffix(".json")):
            if label.exists():
                gt = json.loads(label.read_text(encoding="utf-8"))
                cases.append(Case(folder.name, doc, doc.name, our_doc_type(gt.get("doc_type")), label_fields(gt)))
                break
    if not cases:
        raise ConfigError(f"{folder} has no manifest.jsonl and no <document> + <document>.json pairs")
    return cases


def load_split(path: Path) -> dict[str, str]:
    """sha256 of a document's bytes -> "tune" | "check" (benchmarks/make_dev_split.py)."""
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
        return {str(k): str(v) for k, v in body["split"].items()}
    except (OSError, ValueError, KeyError, AttributeError) as e:
        raise ConfigError(f"cannot read the split {path}: {e}") from e


def with_parts(cases: list[Case], split: dict[str, str]) -> list[Case]:
    """Each case marked with its part of the split; a document the split does not know is "unsplit"."""
    out = []
    for c in cases:
        sha = hashlib.sha256(c.path.read_bytes()).hexdigest()
        out.append(dataclasses.replace(c, part=split.get(sha, "unsplit")))
    return out


# ------------------------------------------------------------------ running


def evaluate_datasets(
    folders: list[Path],
    config: Config,
    *,
    out: Path | None = None,
    workers: int | None = None,
    console: Any = None,
    split: Path | None = None,
    read_cache: Path | None = None,
    learn: bool = False,
) -> Report:
    cases = [c for f in folders for c in load_cases(f)]
    if split is not None:
        cases = with_parts(cases, load_split(split))
    started = time.perf_counter()
    if learn:
        report = evaluate_learning(cases, config, read_cache=read_cache, progress=_progress(console, len(cases)))
    else:
        report = _evaluate_parallel(cases, config, workers, read_cache, console)
    wall = time.perf_counter() - started
    if console is not None:
        print_report(report, console, wall)
    if out is not None:
        write_report(report, out, wall)
        if console is not None:
            written = "report.md, report.json, fields.png, predictions.jsonl, misses.csv"
            console.print(f"Report written to {out}/ ({written})")
    return report


def _evaluate_parallel(
    cases: list[Case], config: Config, workers: int | None, read_cache: Path | None, console: Any
) -> Report:
    report = Report()
    progress = _progress(console, len(cases))
    n = min(workers or default_workers(config), len(cases))
    with progress as bar, WorkerPool(config, n, read_cache=read_cache) as pool:
        task = bar.add_task("eval", total=len(cases)) if bar else None
        for case, (_, result, seconds) in zip(cases, pool.map([c.path for c in cases]), strict=True):
            report.add(case, result, seconds)
            if bar:
                bar.update(task, advance=1)
    return report


def _progress(console: Any, total: int) -> Any:
    from contextlib import nullcontext

    if console is None:
        return nullcontext(None)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(TextColumn("[bold]evaluating"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=console)  # fmt: skip
