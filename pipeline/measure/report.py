"""An evaluation's scores, grouped the ways a reader compares them, and the files it writes.

Scores are kept per (part, seen, dataset, field): `part` is the dev split's "tune" or "check"
(empty without a split), `seen` says whether the vendor had been corrected before
(`eval --learn`; empty otherwise). Each part gets its own table, so tuned and unseen documents
are never mixed into one figure.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledgerlens.pipeline.chain.routes import route_label
from ledgerlens.pipeline.measure.scoring import FieldScore, score_document
from ledgerlens.pipeline.types import DocumentResult

PART_ORDER = {"tune": 0, "check": 1, "": 2, "unsplit": 3}
FIRST_SEEN, SEEN_BEFORE = "first-seen", "seen-before"


@dataclass
class Report:
    documents: int = 0
    # (part, seen, dataset, field) -> [hits, total, similarity sum, similarity count]
    cells: dict[tuple[str, str, str, str], list[float]] = field(
        default_factory=lambda: defaultdict(lambda: [0, 0, 0.0, 0])
    )
    predictions: list[dict[str, Any]] = field(default_factory=list)
    misses: list[dict[str, Any]] = field(default_factory=list)
    timings: list[tuple[float, str, int]] = field(default_factory=list)
    learned: bool = False  # `--learn`: scores are also split by first-seen / seen-before vendor
    negative_totals: list[str] = field(default_factory=list)  # documents read with a total below zero
    routes: dict[str, int] = field(default_factory=dict)  # [engine.routes]: "route: engine model" -> documents

    def add(self, case: Any, result: DocumentResult, seconds: float, *, seen: bool | None = None) -> None:
        self.documents += 1
        self.timings.append((seconds, f"{case.dataset}/{case.document}", result.page_count))
        scores: list[FieldScore] = score_document(case.fields, result.data)
        if case.doc_type:
            scores.append(FieldScore("doc_type", int(result.doc_type == case.doc_type), 1))
        seen_label = "" if seen is None else SEEN_BEFORE if seen else FIRST_SEEN
        for s in scores:
            cell = self.cells[(case.part, seen_label, case.dataset, s.field)]
            cell[0] += s.hits
            cell[1] += s.total
            if s.similarity is not None:
                cell[2] += s.similarity
                cell[3] += 1
            if not s.exact:
                got = result.doc_type if s.field == "doc_type" else result.data.get(s.field)
                expected = case.doc_type if s.field == "doc_type" else case.fields.get(s.field)
                self.misses.append(
                    {"part": case.part, "dataset": case.dataset, "document": case.document, "field": s.field,
                     "expected": _cell(expected), "got": _cell(got), "rows": f"{s.hits}/{s.total}"}
                )  # fmt: skip
        if _negative_total(result) and result.data.get("document_subtype") != "credit_note":
            self.negative_totals.append(f"{case.dataset}/{case.document}")
        row: dict[str, Any] = {"document": case.document, "doc_type": result.doc_type, "status": str(result.status)}
        if case.part:
            row["part"] = case.part
        if seen is not None:
            row["seen_vendor"] = seen
        route = result.provenance.get("route")
        if route:
            row["route"] = route
            read_by = route_label(route)
            self.routes[read_by] = self.routes.get(read_by, 0) + 1
        row["fields"] = result.data
        self.predictions.append(row)

    def parts(self) -> list[str]:
        return sorted({k[0] for k in self.cells}, key=lambda p: (PART_ORDER.get(p, 9), p))

    def table(self, part: str | None = None, seen: str | None = None) -> list[dict[str, Any]]:
        """Rows per (dataset, field) for one part (None: all parts) and one seen group (None: both)."""
        merged: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0, 0.0, 0])
        for (p, s, dataset, name), cell in self.cells.items():
            if (part is None or p == part) and (seen is None or s == seen):
                m = merged[(dataset, name)]
                for i in range(4):
                    m[i] += cell[i]
        rows = []
        for (dataset, name), (hits, total, sim, n_sim) in sorted(merged.items()):
            rows.append(
                {"dataset": dataset, "field": name, "hits": int(hits), "total": int(total),
                 "exact": round(hits / total, 4) if total else None,
                 "similarity": round(sim / n_sim, 4) if n_sim else None}
            )  # fmt: skip
        return rows

    def overall(self, part: str | None = None, seen: str | None = None) -> dict[str, float]:
        rows = [r for r in self.table(part, seen) if r["total"]]
        hits = sum(r["hits"] for r in rows)
        total = sum(r["total"] for r in rows)
        return {
            "micro": round(hits / total, 4) if total else 0.0,
            "macro": round(sum(r["exact"] for r in rows) / len(rows), 4) if rows else 0.0,
        }

    def summary(self, wall: float) -> dict[str, Any]:
        out: dict[str, Any] = {"documents": self.documents, "seconds": round(wall, 2), "overall": self.overall(),
                               "fields": self.table(), "negative_totals": self.negative_totals}  # fmt: skip
        if self.parts() != [""]:
            out["parts"] = {p: {"overall": self.overall(p), "fields": self.table(p)} for p in self.parts()}
            if self.learned:
                for p, body in out["parts"].items():
                    body["vendors"] = {s: self.table(p, s) for s in (FIRST_SEEN, SEEN_BEFORE)}
        if self.learned:
            out["vendors"] = {s: {"overall": self.overall(None, s), "fields": self.table(None, s)}
                              for s in (FIRST_SEEN, SEEN_BEFORE)}  # fmt: skip
        if self.routes:
            out["routes"] = dict(sorted(self.routes.items()))
        out["slowest"] = [{"document": n, "seconds": round(s, 3), "pages": p}
                          for s, n, p in sorted(self.timings, reverse=True)[:10]]  # fmt: skip
        return out


def _routes_line(report: Report) -> str:
    return "Read by route: " + "; ".join(
        f"{label} ({n} document{'' if n == 1 else 's'})" for label, n in sorted(report.routes.items())
    )


def _negative_total(result: DocumentResult) -> bool:
    value = str(result.data.get("total_amount") or "")
    return value.startswith("-") and value.strip("-0.") != ""


def _cell(value: Any) -> str:
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)[:500]
    return "" if value is None else str(value)


def _pct(row: dict[str, Any] | None) -> tuple[str, str]:
    if row is None or not row["total"]:
        return "", ""
    return f"{row['hits']}/{row['total']}", f"{100 * row['exact']:.1f}%"


def print_report(report: Report, console: Any, wall: float) -> None:
    from rich.table import Table

    for part in report.parts():
        title = f"Exact match per dataset and field — {part or 'all'} ({_docs(report, part)} documents)"
        table = Table(title=title)
        columns = ["dataset", "field", "correct", "exact", "similarity"]
        if report.learned:
            columns += [f"{s} {c}" for s in (FIRST_SEEN, SEEN_BEFORE) for c in ("correct", "exact")]
        for col in columns:
            table.add_column(col, justify="left" if col in ("dataset", "field") else "right")
        by_seen = {s: {(r["dataset"], r["field"]): r for r in report.table(part, s)} for s in (FIRST_SEEN, SEEN_BEFORE)}
        for r in report.table(part):
            sim = f"{r['similarity']:.3f}" if r["similarity"] is not None else ""
            cells = [r["dataset"], r["field"], *_pct(r), sim]
            if report.learned:
                for s in (FIRST_SEEN, SEEN_BEFORE):
                    cells += _pct(by_seen[s].get((r["dataset"], r["field"])))
            table.add_row(*cells)
        console.print(table)
        o = report.overall(part)
        console.print(f"{part or 'all'}: micro {100 * o['micro']:.1f}%, macro {100 * o['macro']:.1f}%")
    o = report.overall()
    console.print(f"Overall: micro {100 * o['micro']:.1f}%, macro {100 * o['macro']:.1f}% "
                  f"over {report.documents} documents in {wall:.1f} s")  # fmt: skip
    if report.routes:
        console.print(_routes_line(report))
    if report.negative_totals:
        console.print(f"[red]Negative totals[/red]: {', '.join(report.negative_totals)}")
    slow = sorted(report.timings, reverse=True)[:5]
    console.print("Slowest: " + "; ".join(f"{name} {sec:.2f}s ({pages} p.)" for sec, name, pages in slow))


def _docs(report: Report, part: str) -> int:
    return sum(1 for p in report.predictions if p.get("part", "") == part)


def write_report(report: Report, out: Path, wall: float) -> None:
    out.mkdir(parents=True, exist_ok=True)
    summary = report.summary(wall)
    (out / "report.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    with (out / "predictions.jsonl").open("w", encoding="utf-8") as f:
        for p in report.predictions:
            f.write(json.dumps(p, ensure_ascii=False, sort_keys=False) + "\n")
    with (out / "misses.csv").open("w", encoding="utf-8", newline="") as f:
        names = ["dataset", "document", "field", "expected", "got", "rows"]
        w = csv.DictWriter(f, fieldnames=["part", *names] if report.parts() != [""] else names, extrasaction="ignore")
        w.writeheader()
        w.writerows(report.misses)
    (out / "report.md").write_text(_markdown(report, wall), encoding="utf-8")
    write_chart(report.table(), out / "fields.png")


def _markdown(report: Report, wall: float) -> str:
    lines = ["# ledgerlens evaluation", "", f"{report.documents} documents, {wall:.1f} s.", ""]
    learned = report.learned
    for part in report.parts():
        if part:
            lines += [f"## {part} ({_docs(report, part)} documents)", ""]
        head = "| dataset | field | correct | exact | similarity |"
        rule = "|---|---|---|---|---|"
        if learned:
            head += f" {FIRST_SEEN} | {SEEN_BEFORE} |"
            rule += "---|---|"
        lines += [head, rule]
        by_seen = {s: {(r["dataset"], r["field"]): r for r in report.table(part, s)} for s in (FIRST_SEEN, SEEN_BEFORE)}
        for r in report.table(part):
            sim = f"{r['similarity']:.3f}" if r["similarity"] is not None else ""
            line = f"| {r['dataset']} | {r['field']} | {r['hits']}/{r['total']} | {100 * r['exact']:.1f}% | {sim} |"
            if learned:
                for s in (FIRST_SEEN, SEEN_BEFORE):
                    got = by_seen[s].get((r["dataset"], r["field"]))
                    line += " " + " ".join(_pct(got)) + " |"
            lines.append(line)
        o = report.overall(part)
        lines += ["", f"{part or 'All'}: micro {100 * o['micro']:.1f}%, macro {100 * o['macro']:.1f}%.", ""]
    o = report.overall()
    lines += [f"Overall: micro {100 * o['micro']:.1f}%, macro {100 * o['macro']:.1f}%.", ""]
    if report.routes:
        lines += [_routes_line(report) + ".", ""]
    if report.negative_totals:
        lines += [f"Negative totals: {', '.join(report.negative_totals)}", ""]
    lines += ["![exact match per field](fields.png)", ""]
    return "\n".join(lines)


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


def compare(without: Report, with_: Report) -> list[dict[str, Any]]:
    """Exact match per dataset and field of two runs over the same documents (e.g. without and with
    a LoRA adapter), with the change; the overall micro score last."""
    base = {(r["dataset"], r["field"]): r for r in without.table()}
    rows = []
    for r in with_.table():
        b = base.get((r["dataset"], r["field"]), {"exact": None})
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
