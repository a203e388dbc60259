#!/usr/bin/env python3
"""Fit the field finder's learned weights (pipeline/engines/ocr/finder/total_weights.json).

    python benchmarks/fit_finder_weights.py [--dev ../shared/benchmarks/dev] [--seeds 0 1 2 3 4]
        [--read-cache build/read-cache] [--out pipeline/engines/ocr/finder/total_weights.json]

Training documents: the generated fixtures (tests/fixtures/generate.py; born-digital PDFs for
every seed, scanned copies for the first) and the *tune* part of the development set
(benchmarks/dev_split.json) — never its *check* part. Every amount the finder sees on a page is
a candidate, 1 when its value is the labelled total (learned.py holds the features); a
conditional logit (a softmax over each document's candidates), L2-regularised, is fitted by
Newton's method (numpy; no other dependency), then scaled and shifted so that the logistic of
an amount's score is the probability that it is the total (what learned.py computes).
`top1_held_out` is the same fit's top-1 on documents left out of it (k-fold): the figure to
compare changes of features by.
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


Group = tuple[np.ndarray, np.ndarray]  # one document: its candidates' features, 1 where the value is the total


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


def _loss(groups: list[Group], w: np.ndarray, penalty: np.ndarray) -> float:
    """Negative log-likelihood that the total's value wins within its document, plus the L2 term."""
    total = 0.5 * float(w @ (penalty * w))
    for x, y in groups:
        q = _softmax(x @ w)
        total -= float(np.log(max(q[y == 1].sum(), 1e-300)))
    return total


def fit(groups: list[Group], l2: float, steps: int = 60) -> np.ndarray:
    """A conditional logit (a softmax over each document's candidates; the total's value, however
    often printed, is the one right answer), L2-regularised, by damped Newton steps.

    A document is a ranking problem: which of its amounts is the total. Fitting every amount as
    an independent yes/no spends the weights on telling totals from line prices across
    documents instead of within one."""
    groups = [(x, y) for x, y in groups if y.any()]  # nothing to learn where the total was not read
    w = np.zeros(groups[0][0].shape[1])
    penalty = np.full(w.shape, l2)
    penalty[0] = 1.0  # the bias cancels inside a softmax: it stays at zero
    loss = _loss(groups, w, penalty)
    for _ in range(steps):
        grad, hess = penalty * w, np.diag(penalty)
        for x, y in groups:
            q = _softmax(x @ w)
            pos = y == 1
            r = np.where(pos, q, 0.0) / q[pos].sum()  # the model's share among the right answers
            grad = grad + x.T @ (q - r)
            mean = q @ x
            hess = hess + (x * q[:, None]).T @ x - np.outer(mean, mean)
        delta = np.linalg.solve(hess, grad)
        step = 1.0
        trial = _loss(groups, w - delta, penalty)
        while trial > loss and step > 1e-4:  # halve the step until the loss falls
            step /= 2
            trial = _loss(groups, w - step * delta, penalty)
        w, loss = w - step * delta, trial
        if np.abs(step * delta).max() < 1e-7:
            break
    return w


def calibrate(groups: list[Group], w: np.ndarray, steps: int = 50) -> np.ndarray:
    """The ranking weights scaled and shifted (z -> a z + b) so that the logistic of the score is
    the probability that this one amount is the total: the arithmetic in totals.py weighs each
    candidate's probability on its own, not its share of the page. A plain logistic regression
    on the single score; a > 0 keeps the ranking."""
    z = np.concatenate([x @ w for x, _ in groups])
    y = np.concatenate([y for _, y in groups])
    feats = np.stack([z, np.ones_like(z)], axis=1)
    ab = np.zeros(2)
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-np.clip(feats @ ab, -30, 30)))
        grad = feats.T @ (p - y) + 1e-6 * ab
        hess = (feats * (p * (1 - p))[:, None]).T @ feats + 1e-6 * np.eye(2)
        delta = np.linalg.solve(hess, grad)
        ab -= delta
        if np.abs(delta).max() < 1e-8:
            break
    out = ab[0] * w
    out[0] += ab[1]  # FEATURES[0] is the bias
    return out


def top1(groups: list[Group], w: np.ndarray) -> float:
    """Share of documents whose best-scored amount is the labelled total."""
    hits = sum(int(y[int(np.argmax(x @ w))] == 1) for x, y in groups if len(y))
    return round(hits / max(1, sum(1 for _, y in groups if len(y))), 4)


def held_out(groups: dict[str, list[Group]], l2: float, folds: int) -> dict[str, float]:
    """Top-1 on documents left out of the fit (`folds`-fold): how the weights do on pages they
    were not fitted on."""
    tagged = [(src, g) for src, gs in groups.items() for g in gs]
    hits: dict[str, list[int]] = {}
    for k in range(folds):
        w = fit([g for i, (_, g) in enumerate(tagged) if i % folds != k], l2)
        for i, (src, (x, y)) in enumerate(tagged):
            if i % folds == k and len(y):
                hits.setdefault(src, []).append(int(y[int(np.argmax(x @ w))] == 1))
    return {src: round(sum(h) / len(h), 4) for src, h in hits.items()}


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
    ap.add_argument("--l2", type=float, default=3.0)
    ap.add_argument("--folds", type=int, default=5, help="cross-validation folds for the held-out top-1")
    ap.add_argument("--out", type=Path, default=ROOT / "pipeline" / "engines" / "ocr" / "finder" / WEIGHTS_FILE)
    args = ap.parse_args(argv)
    opts = PipelineOptions()
    cache = ReadCache(args.read_cache, opts)
    schemas = load_schemas()
    groups: dict[str, list[Group]] = {}
    with tempfile.TemporaryDirectory(prefix="ledgerlens-fit-") as tmp:
        for source, case in training_cases(args.dev, args.seeds, Path(tmp)):
            for pages in readings(case, cache, opts):
                xs, ys = examples(pages, case, schemas)
                groups.setdefault(source.split(" seed")[0], []).append(
                    (np.array(xs).reshape(-1, len(FEATURES)), np.array(ys))
                )
    every = [g for gs in groups.values() for g in gs]
    w = calibrate(every, fit(every, args.l2))
    y = np.concatenate([g[1] for g in every])
    body = {
        "schema": "ledgerlens-finder-weights/2",
        "model": (
            "conditional logit over each document's total candidates, calibrated to a logistic probability"
            " (pipeline/engines/ocr/finder/learned.py)"
        ),
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
        "top1_held_out": held_out(groups, args.l2, args.folds),
        "weights": {f: round(float(v), 4) for f, v in zip(FEATURES, w, strict=True)},
    }
    args.out.write_text(json.dumps(body, indent=1) + "\n", encoding="utf-8")
    print(json.dumps({k: body[k] for k in ("fitted_on", "top1_on_training", "top1_held_out")}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
