#!/usr/bin/env python3
"""Fit the field finder's learned weights (pipeline/engines/ocr/finder/total_weights.json).

    python benchmarks/fit_finder_weights.py [--dev ../shared/benchmarks/dev] [--seeds 0 1 2 3 4]
        [--read-cache build/read-cache] [--out pipeline/engines/ocr/finder/total_weights.json]

Training documents: the generated fixtures (tests/fixtures/generate.py; born-digital PDFs for
every seed, scanned copies for the first) and the *tune* part of the development set
(benchmarks/dev_split.json) — never its *check* part. Every amount the finder sees on a page is
one example: 1 when it is the labelled total, else 0 (learned.py holds the features). An
L2-regularised logistic regression is fitted by Newton's method (numpy; no other dependency).
A receipt whose second reading is in the read cache gives a second example document.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fixtures.generate import generate
from ledgerlens.pipeline.config import PipelineOptions
from ledgerlens.pipeline.doctypes.schemas import load_schemas
from ledgerlens.pipeline.engines.ocr.finder.amounts import AMOUNT_FIELDS, amount_candidates
from ledgerlens.pipeline.engines.ocr.finder.found import guess_decimal_sep
from ledgerlens.pipeline.engines.ocr.finder.learned import FEATURES, WEIGHTS_FILE
from ledgerlens.pipeline.engines.ocr.finder.lexicon import lexicon_for
from ledgerlens.pipeline.engines.ocr.finder.tables import line_items, receipt_items
from ledgerlens.pipeline.engines.ocr.finder.totals import scored_totals
from ledgerlens.pipeline.engines.ocr.finder.view import DocView
from ledgerlens.pipeline.measure.evaluate import Case, load_cases, load_split
from ledgerlens.pipeline.measure.readcache import ReadCache
from ledgerlens.pipeline.read.load import load_document
from ledgerlens.pipeline.read.ocr import read_text
from ledgerlens.pipeline.read.rasterize import rasterize
from ledgerlens.pipeline.types import Page

ROOT = Path(__file__).resolve().parents[1]
DEV_FOLDERS = ("sroie_train", "invoice2data", "facturx_dev")


def readings(case: Case, cache: ReadCache, opts: PipelineOptions) -> list[list[Page]]:
    """The pages as the first reader saw them (OCR'd now if the cache lacks them), and as the
    second reader saw them when the cache has that reading."""
    work = Path(tempfile.mkdtemp(prefix="ledgerlens-fit-"))
    try:
        doc = rasterize(load_document(case.path, opts), opts, work)
        first = cache.load(doc, "ocr")
        if first is None:
            first = read_text(doc, opts)
            cache.save(first, "ocr")
        out = [first.pages]
        second = cache.load(doc, "ocr_second")
        if second is not None:
            out.append(second.pages)
        return out
    finally:
        shutil.rmtree(work, ignore_errors=True)


def examples(pages: list[Page], case: Case, schemas) -> tuple[list[list[float]], list[int]]:
    schema = schemas[case.doc_type]
    view = DocView(pages, lexicon_for(schema.labels))
    if not view.rows:
        return [], []
    dec = guess_decimal_sep(view)
    items = line_items(view, dec) or (receipt_items(view, dec) if case.doc_type == "receipt" else [])
    cands = {f: amount_candidates(view, f, dec) for f in AMOUNT_FIELDS}
    credit = case.fields.get("document_subtype") == "credit_note"
    truth = abs(Decimal(str(case.fields["total_amount"])))
    xs, ys = [], []
    for s in scored_totals(view, dec, cands, items, credit):
        xs.append([s.features[f] for f in FEATURES])
        ys.append(int(abs(s.candidate.value) == truth))
    return xs, ys


def fit(x: np.ndarray, y: np.ndarray, l2: float, steps: int = 50) -> np.ndarray:
    """L2-regularised logistic regression (the bias is not penalised), Newton-Raphson."""
    w = np.zeros(x.shape[1])
    penalty = np.full(x.shape[1], l2)
    penalty[0] = 1e-6
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -30, 30)))
        grad = x.T @ (p - y) + penalty * w
        hess = (x * (p * (1 - p))[:, None]).T @ x + np.diag(penalty)
        delta = np.linalg.solve(hess, grad)
        w -= delta
        if np.abs(delta).max() < 1e-8:
            break
    return w


def top1(groups: list[tuple[np.ndarray, np.ndarray]], w: np.ndarray) -> float:
    """Share of documents whose best-scored amount is the labelled total."""
    hits = sum(int(y[int(np.argmax(x @ w))] == 1) for x, y in groups if len(y))
    return round(hits / max(1, sum(1 for _, y in groups if len(y))), 4)


def training_cases(dev: Path, seeds: list[int], tmp: Path) -> list[tuple[str, Case]]:
    cases: list[tuple[str, Case]] = []
    for seed in seeds:
        folder = tmp / f"fixtures-{seed}"
        generate(folder, seed=seed, scans=seed == seeds[0])
        cases += [(f"fixtures seed {seed}", c) for c in load_cases(folder)]
    split = load_split(ROOT / "benchmarks" / "dev_split.json")
    for name in DEV_FOLDERS:
        for c in load_cases(dev / name):
            if split.get(hashlib.sha256(c.path.read_bytes()).hexdigest()) == "tune":  # never check
                cases.append(("dev tune", c))
    return [(src, c) for src, c in cases if c.doc_type in ("invoice", "receipt") and c.fields.get("total_amount")]


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dev", type=Path, default=ROOT.parent / "shared" / "benchmarks" / "dev")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--read-cache", type=Path, default=ROOT / "build" / "read-cache")
    ap.add_argument("--l2", type=float, default=1.0)
    ap.add_argument("--out", type=Path, default=ROOT / "pipeline" / "engines" / "ocr" / "finder" / WEIGHTS_FILE)
    args = ap.parse_args(argv)
    opts = PipelineOptions()
    cache = ReadCache(args.read_cache, opts)
    schemas = load_schemas()
    groups: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    with tempfile.TemporaryDirectory(prefix="ledgerlens-fit-") as tmp:
        for source, case in training_cases(args.dev, args.seeds, Path(tmp)):
            for pages in readings(case, cache, opts):
                xs, ys = examples(pages, case, schemas)
                groups.setdefault(source.split(" seed")[0], []).append(
                    (np.array(xs).reshape(-1, len(FEATURES)), np.array(ys))
                )
    every = [g for gs in groups.values() for g in gs]
    x = np.vstack([g[0] for g in every])
    y = np.concatenate([g[1] for g in every])
    w = fit(x, y, args.l2)
    body = {
        "schema": "ledgerlens-finder-weights/1",
        "model": "logistic regression over the total's candidates (pipeline/engines/ocr/finder/learned.py)",
        "script": "benchmarks/fit_finder_weights.py",
        "fitted_on": {
            "fixtures": f"tests/fixtures/generate.py seeds {args.seeds} (scans for seed {args.seeds[0]})",
            "dev": "the tune part of benchmarks/dev_split.json (sroie_train, invoice2data, facturx_dev)",
            "documents": {k: len(v) for k, v in groups.items()},
            "candidates": len(y),
            "positives": int(y.sum()),
            "l2": args.l2,
        },
        "top1_on_training": {k: top1(v, w) for k, v in groups.items()},
        "weights": {f: round(float(v), 4) for f, v in zip(FEATURES, w, strict=True)},
    }
    args.out.write_text(json.dumps(body, indent=1) + "\n", encoding="utf-8")
    print(json.dumps({k: body[k] for k in ("fitted_on", "top1_on_training")}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
