"""`ledgerlens eval`: run the pipeline over labelled documents and score every labelled field.

Datasets are folders in the `bench-gt/1` layout (manifest.jsonl + <name>.gt.json), or plain
folders of `<doc>` + `<doc>.json` pairs (e.g. reviewed corrections). Documents run through the
same stages as production, without Prefect, in a pool of worker processes.
"""

from __future__ import annotations

import csv
import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledgerlens.pipeline.config import Config
from ledgerlens.pipeline.engines import default_workers
from ledgerlens.pipeline.errors import ConfigError
from ledgerlens.pipeline.measure.pool import WorkerPool
from ledgerlens.pipeline.measure.scoring import FieldScore, score_document
from ledgerlens.pipeline.types import DocumentResult

META_KEYS = {"doc_type", "document", "schema", "source", "notes"}
DOC_SUFFIXES = {".pdf", ".png", ".jpg", ".jpeg", ".tif", ".tiff"}


@dataclass(frozen=True)
class Case:
    dataset: str
    path: Path  # the file the pipeline reads
    document: str  # the name reported (the ground truth's document name)
    doc_type: str | None  # expected type, mapped to ours; None when unlabelled
    fields: dict[str, Any]


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


# ------------------------------------------------------------------ running


@dataclass
class Report:
    documents: int = 0
    # (dataset, field) -> [hits, total, similarity sum, similarity count]
    cells: dict[tuple[str, str], list[float]] = field(default_factory=lambda: defaultdict(lambda: [0, 0, 0.0, 0]))
    predictions: list[dict[str, Any]] = field(default_factory=list)
    misses: list[dict[str, Any]] = field(default_factory=list)
    timings: list[tuple[float, str, int]] = field(default_factory=list)

    def add(self, case: Case, result: DocumentResult, seconds: float) -> None:
        self.documents += 1
        self.timings.append((seconds, f"{case.dataset}/{case.document}", result.page_count))
        scores: list[FieldScore] = score_document(case.fields, result.data)
        if case.doc_type:
            scores.append(FieldScore("doc_type", int(result.doc_type == case.doc_type), 1))
        for s in scores:
            cell = self.cells[(case.dataset, s.field)]
            cell[0] += s.hits
            cell[1] += s.total
            if s.similarity is not None:
                cell[2] += s.similarity
                cell[3] += 1
            if not s.exact:
                got = result.doc_type if s.field == "doc_type" else result.data.get(s.field)
                expected = case.doc_type if s.field == "doc_type" else case.fields.get(s.field)
                self.misses.append(
                    {"dataset": case.dataset, "document": case.document, "field": s.field,
                     "expected": _cell(expected), "got": _cell(got), "rows": f"{s.hits}/{s.total}"}
                )  # fmt: skip
        status = str(result.status)
        self.predictions.append(
            {"document": case.document, "doc_type": result.doc_type, "status": status, "fields": result.data}
        )

    def table(self) -> list[dict[str, Any]]:
        rows = []
        for (dataset, name), (hits, total, sim, n_sim) in sorted(self.cells.items()):
            rows.append(
                {"dataset": dataset, "field": name, "hits": int(hits), "total": int(total),
                 "exact": round(hits / total, 4) if total else None,
                 "similarity": round(sim / n_sim, 4) if n_sim else None}
            )  # fmt: skip
        return rows

    def overall(self) -> dict[str, float]:
        rows = [r for r in self.table() if r["total"]]
        hits = sum(r["hits"] for r in rows)
        total = sum(r["total"] for r in rows)
        return {
            "micro": round(hits / total, 4) if total else 0.0,
            "macro": round(sum(r["exact"] for r in rows) / len(rows), 4) if rows else 0.0,
        }


def compare(without: Report, with_: Report) -> list[dict[str, Any]]:
    """Exact match per dataset and field of two runs over the same documents (e.g. without and with
    a LoRA adapter), with the change; the overall micro score last."""
    base = {(r["dataset"], r["field"]): r for r in without.table()}
    rows = []
    for r in with_.table():
        b = base.get((r["dataset"], r["field"]), {"hits": 0, "exact": None})
        change = r["exact"] - b["exact"] if r["exact"] is not None and b["exact"] is not None else None
        rows.append({"dataset": r["dataset"], "field": r["field"], "total": r["total"], "without": b["exact"],
                     "with": r["exact"], "change": round(change, 4) if change is not None else None})  # fmt: skip
    o, n = without.overall()["micro"], with_.overall()["micro"]
    rows.append({"dataset": "all", "field": "overall (micro)", "total": None, "without": o, "with": n,
                 "change": round(n - o, 4)})  # fmt: skip
    return rows


def print_comparison(rows: list[dict[str, Any]], console: Any) -> None:
    from rich.table import Table

    def pct(v: float | None) -> str:
        return "" if v is None else f"{100 * v:.1f}%"

    table = Table(title="Exact match without and with the adapter")
    for col in ("dataset", "field", "without", "with", "change"):
        table.add_column(col, justify="left" if col in ("dataset", "field") else "right")
    for r in rows:
        change = "" if r["change"] is None else f"{100 * r['change']:+.1f}"
        table.add_row(r["dataset"], r["field"], pct(r["without"]), pct(r["with"]), change)
    console.print(table)


def _cell(value: Any) -> str:
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)[:500]
    return "" if value is None else str(value)


def evaluate_datasets(
    folders: list[Path], config: Config, *, out: Path | None = None, workers: int | None = None, console: Any = None
) -> Report:
    cases = [c for f in folders for c in load_cases(f)]
    report = Report()
    started = time.perf_counter()
    progress = _progress(console, len(cases))
    with progress as bar, WorkerPool(config, min(workers or default_workers(config), len(cases))) as pool:
        task = bar.add_task("eval", total=len(cases)) if bar else None
        for case, (_, result, seconds) in zip(cases, pool.map([c.path for c in cases]), strict=True):
            report.add(case, result, seconds)
            if bar:
                bar.update(task, advance=1)
    wall = time.perf_counter() - started
    if console is not None:
        _print(report, console, wall)
    if out is not None:
        write_report(report, out, wall)
        if console is not None:
            written = "report.md, report.json, fields.png, predictions.jsonl, misses.csv"
            console.print(f"Report written to {out}/ ({written})")
    return report


def _progress(console: Any, total: int) -> Any:
    from contextlib import nullcontext

    if console is None:
        return nullcontext(None)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(TextColumn("[bold]evaluating"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=console)  # fmt: skip


def _print(report: Report, console: Any, wall: float) -> None:
    from rich.table import Table

    table = Table(title="Exact match per dataset and field")
    for col in ("dataset", "field", "correct", "exact", "similarity"):
        table.add_column(col, justify="left" if col in ("dataset", "field") else "right")
    for r in report.table():
        sim = f"{r['similarity']:.3f}" if r["similarity"] is not None else ""
        table.add_row(r["dataset"], r["field"], f"{r['hits']}/{r['total']}", f"{100 * r['exact']:.1f}%", sim)
    console.print(table)
    o = report.overall()
    console.print(f"Overall: micro {100 * o['micro']:.1f}%, macro {100 * o['macro']:.1f}% "
                  f"over {report.documents} documents in {wall:.1f} s")  # fmt: skip
    slow = sorted(report.timings, reverse=True)[:5]
    console.print("Slowest: " + "; ".join(f"{name} {sec:.2f}s ({pages} p.)" for sec, name, pages in slow))


def write_report(report: Report, out: Path, wall: float) -> None:
    out.mkdir(parents=True, exist_ok=True)
    rows = report.table()
    summary = {"documents": report.documents, "seconds": round(wall, 2), "overall": report.overall(), "fields": rows,
               "slowest": [{"document": n, "seconds": round(s, 3), "pages": p}
                           for s, n, p in sorted(report.timings, reverse=True)[:10]]}  # fmt: skip
    (out / "report.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    with (out / "predictions.jsonl").open("w", encoding="utf-8") as f:
        for p in report.predictions:
            f.write(json.dumps(p, ensure_ascii=False, sort_keys=False) + "\n")
    with (out / "misses.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["dataset", "document", "field", "expected", "got", "rows"])
        w.writeheader()
        w.writerows(report.misses)
    lines = ["# ledgerlens evaluation", "", f"{report.documents} documents, {wall:.1f} s.", "",
             "| dataset | field | correct | exact | similarity |", "|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        sim = f"{r['similarity']:.3f}" if r["similarity"] is not None else ""
        lines.append(f"| {r['dataset']} | {r['field']} | {r['hits']}/{r['total']} | {100 * r['exact']:.1f}% | {sim} |")
    o = report.overall()
    lines += ["", f"Overall: micro {100 * o['micro']:.1f}%, macro {100 * o['macro']:.1f}%.", ""]
    lines += ["![exact match per field](fields.png)", ""]
    (out / "report.md").write_text("\n".join(lines), encoding="utf-8")
    write_chart(rows, out / "fields.png")


def write_chart(rows: list[dict[str, Any]], path: Path) -> None:
    """Horizontal bars: exact match per field, one colour per dataset."""
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    rows = [r for r in rows if r["total"]]
    datasets = sorted({r["dataset"] for r in rows})
    labels = [f"{r['dataset']} · {r['field']}" for r in rows]
    colours = plt.get_cmap("tab10")
    fig, ax = plt.subplots(figsize=(9, max(2.5, 0.28 * len(rows) + 1)))
    ax.barh(range(len(rows)), [100 * r["exact"] for r in rows],
            color=[colours(datasets.index(r["dataset"]) % 10) for r in rows])  # fmt: skip
    ax.set_yticks(range(len(rows)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("exact match (%)")
    ax.set_title("ledgerlens eval: exact match per field")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110, metadata={"Software": None})  # no version/time stamp: stable bytes
    plt.close(fig)
