#!/usr/bin/env python3
"""Statement reading on the generated statements: transactions exact, and seconds per statement.

    python benchmarks/bench_statements.py [--out build/bench-statements.json] [--scans] [--long-scan]

Generates the statement set (`tests/fixtures/generate.py --statements`: en, fr, es, de, a card
statement, a 520-row statement) and reads each through the chain with the default `ocr` engine.
A ground-truth row is exact when a row read has the same date, amount and (where printed)
balance; extra rows read count against the score: exact % = exact rows / max(rows in the
truth, rows read). `--scans` reads the scanned copies too; `--long-scan` makes and reads the
scanned copy of the 520-row, 12-page statement (the timing target: under 30 s on a quiet
machine; figures from a busy machine mean little).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def score_rows(truth: list[dict[str, Any]], got: list[dict[str, Any]]) -> tuple[int, int]:
    """(exact rows, max(len(truth), len(got))): each truth row matched once, in any order."""
    used: set[int] = set()
    hits = 0
    for row in truth:
        for i, g in enumerate(got):
            same = g.get("date") == row["date"] and g.get("amount") == row["amount"]
            if same and "balance" in row:
                same = g.get("balance") == row["balance"]
            if i not in used and same:
                used.add(i)
                hits += 1
                break
    return hits, max(len(truth), len(got))


def read_statements(folder: Path, names: list[str]) -> list[dict[str, Any]]:
    from ledgerlens.pipeline.chain import Context, process_file
    from ledgerlens.pipeline.config import Config

    ctx = Context.create(Config())
    out = []
    for name in names:
        path = folder / name
        truth = json.loads((folder / (name.rsplit(".", 1)[0] + ".gt.json")).read_text())["fields_normalized"]
        started = time.perf_counter()
        result = process_file(path, ctx)
        seconds = time.perf_counter() - started
        hits, total = score_rows(truth.get("transactions", []), result.data.get("transactions") or [])
        out.append({"document": name, "doc_type": result.doc_type, "status": str(result.status), "rows": total,
                    "exact": hits, "seconds": round(seconds, 2), "pages": result.page_count,
                    "issues": [i.code for i in result.issues],
                    "stages": {k: round(v, 2) for k, v in result.timings.items()}})  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    from fixtures.generate import generate
    from fixtures.samples.scans import scan_copy

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=ROOT / "build" / "bench-statements.json")
    p.add_argument("--scans", action="store_true", help="also read the scanned copies")
    p.add_argument("--long-scan", action="store_true", help="make and read the 520-row statement's scan")
    p.add_argument("--only", nargs="*", help="only these templates (e.g. statement_en_long)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        generate(folder, scans=args.scans, statements=True, only=args.only)
        names = sorted(f.name for f in folder.iterdir() if "statement" in f.name and not f.name.endswith(".json"))
        if args.long_scan:
            pdf = (folder / "statement_en_long.pdf").read_bytes()
            data, ext, _ = scan_copy(pdf, 0, "statement_en_long.scan_copy")
            (folder / f"statement_en_long.{ext}").write_bytes(data)
            (folder / "statement_en_long.scan.gt.json").write_bytes((folder / "statement_en_long.gt.json").read_bytes())
            names.append(f"statement_en_long.{ext}")
        rows = read_statements(folder, names)
    for kind, pick in (
        ("born-digital", lambda r: r["document"].endswith(".pdf")),
        ("scanned", lambda r: not r["document"].endswith(".pdf")),
    ):
        chosen = [r for r in rows if pick(r)]
        if chosen:
            exact, total = sum(r["exact"] for r in chosen), sum(r["rows"] for r in chosen)
            print(f"{kind}: {exact}/{total} transactions exact ({100 * exact / max(total, 1):.1f} %)")
    for r in rows:
        print(
            f"  {r['document']:38} {r['exact']:4}/{r['rows']:<4} {r['seconds']:7.2f} s  {r['pages']:2} p  {r['status']}"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
