"""The document total, chosen among every amount on the page by learned weights.

A label alone does not say which amount is the total: receipts print "Total" before and after
rounding, a subtotal, GST "included in total", the cash tendered and the change; OCR drops or
garbles labels. So every amount printed with decimals is a candidate, described by features a
person would weigh — the labels before it (total, net, tax, cash, change, rounding), where it
sits, whether the arithmetic backs it (cash - change, the lines' sum, net + tax, the 0.05 step
of a rounded total), how often it is printed — and a logistic model scores it.

The weights are data (`total_weights.json`, beside this file), fitted by
`benchmarks/fit_finder_weights.py` on the generated fixture documents and the *tune* part of the
development set only; that file names what it was fitted on.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib.resources import files
from itertools import product

from ledgerlens.pipeline.engines.ocr.finder.lexicon import LabelHit
from ledgerlens.pipeline.engines.ocr.finder.values import FoundAmount, amounts_in
from ledgerlens.pipeline.engines.ocr.finder.view import Candidate, DocView, read_confidence
from ledgerlens.pipeline.read.layout import Row

WEIGHTS_FILE = "total_weights.json"
STEP = Decimal("0.05")
CENT = Decimal("0.01")

FEATURES = (
    "bias",
    "label_total_strong",  # a strong total label before the amount on its row ("Grand Total", "Nett Total")
    "label_total_weak",  # a weak one ("Total", "Amount")
    "label_net",  # subtotal / net
    "label_tax",  # tax / GST / VAT
    "label_cash",  # cash tendered
    "label_change",  # change given
    "label_ignored",  # rounding, discount, item count
    "label_due",  # amount due / balance
    "label_none",  # nothing labels the row
    "last_total",  # the lowest amount on the pages that a total label points at (after discounts, rounding)
    "tax_summary",  # inside a tax summary table
    "rel_y",  # how far down the page (0 top, 1 bottom)
    "last_third",  # in the bottom third of the rows
    "largest",  # the largest amount on the page
    "value_rank",  # 1 for the largest value, falling for smaller ones
    "repeats",  # the same value printed again elsewhere (0, 0.5, 1)
    "eq_paid",  # = cash - change
    "eq_cash",  # = cash tendered (exact change)
    "eq_lines",  # = the sum of the line items
    "eq_net_tax",  # = a net amount + a tax amount printed on the page
    "rounded_step",  # a multiple of 0.05 on a page that prints a rounding line
    "near_rounded",  # within 0.05 of a candidate that is a multiple of 0.05, on a page with rounding
    "currency",  # printed with a currency symbol or code
    "read_conf",  # OCR confidence of its words
    "rightmost",  # the last amount of its row
    "negative",  # printed negative
)


@dataclass
class Scored:
    candidate: Candidate
    features: dict[str, float]
    probability: float = 0.0


@cache
def weights() -> dict[str, float]:
    """The fitted weights; a missing file falls back to label strength alone."""
    path = files("ledgerlens.pipeline.engines.ocr.finder") / WEIGHTS_FILE
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
        return {k: float(v) for k, v in body["weights"].items()}
    except (OSError, ValueError, KeyError):
        return {"bias": -3.0, "label_total_strong": 3.0, "label_total_weak": 2.0, "eq_paid": 1.0}


def _label_fields(view: DocView, hits: list[LabelHit], amount: FoundAmount) -> set[str]:
    x = amount.words[0].x0
    return {f for h in hits if h.x1 <= x + 1 for f in h.fields if h.strength(f) > 0}


def _strong_total(hits: list[LabelHit], amount: FoundAmount, at_least: float = 0.8) -> bool:
    x = amount.words[0].x0
    return any(h.x1 <= x + 1 and h.strength("total_amount") >= at_least for h in hits)


@dataclass
class PageFacts:
    """What the arithmetic features compare against, read once per document."""

    paid: Decimal | None
    cash: Decimal | None
    lines: Decimal | None
    sums: frozenset[Decimal]  # net + tax for labelled nets and taxes
    rounding: bool  # the page prints a rounding line


def total_candidates(view: DocView, dec: str | None, facts: PageFacts, in_summary) -> list[Scored]:
    """Every amount with decimals on the pages, scored as the document's total."""
    spots: list[tuple[FoundAmount, Row, int]] = []
    for row in view.rows:
        found = [a for a in amounts_in(row.words, decimal_sep=dec) if a.has_decimals]
        for i, a in enumerate(found):
            spots.append((a, row, int(i == len(found) - 1)))
    if not spots:
        return []
    values = [abs(a.amount.value) for a, _, _ in spots]
    distinct = sorted(set(values), reverse=True)
    steps = {v for v in values if v % STEP == 0}
    totals = [a for a, row, _ in spots if _strong_total(view.labels[id(row)], a, 0.5) and not in_summary(row)]
    last_total = totals[-1] if totals else None
    out = []
    for a, row, last in spots:
        out.append(_scored(view, a, row, last, values, distinct, steps, facts, in_summary, last_total))
    w = weights()
    for s in out:
        z = sum(w.get(k, 0.0) * v for k, v in s.features.items())
        s.probability = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))
    return sorted(out, key=lambda s: -s.probability)


def _scored(
    view, a: FoundAmount, row, last: int, values, distinct, steps, facts: PageFacts, in_summary, last_total
) -> Scored:
    value = abs(a.amount.value)
    hits = view.labels[id(row)]
    fields = _label_fields(view, hits, a)
    rows = view.rows_of(row.page)
    rel_y = row.index / max(len(rows) - 1, 1) if row.page == len(view.pages) - 1 else 0.0
    strong = _strong_total(hits, a)
    f = {
        "bias": 1.0,
        "label_total_strong": float(strong),
        "label_total_weak": float("total_amount" in fields and not strong),
        "label_net": float(bool(fields & {"net_amount", "line_total_amount"})),
        "label_tax": float("tax_amount" in fields),
        "label_cash": float("payment_cash" in fields),
        "label_change": float("payment_change" in fields),
        "label_ignored": float("ignore" in fields),
        "label_due": float("amount_due" in fields),
        "label_none": float(not hits),
        "last_total": float(last_total is not None and last_total is a),
        "tax_summary": float(in_summary(row)),
        "rel_y": rel_y,
        "last_third": float(rel_y >= 2 / 3),
        "largest": float(value == distinct[0]),
        "value_rank": 1.0 / (1 + distinct.index(value)),
        "repeats": min(values.count(value) - 1, 2) / 2,
        "eq_paid": float(facts.paid is not None and value == facts.paid),
        "eq_cash": float(facts.cash is not None and value == facts.cash),
        "eq_lines": float(facts.lines is not None and abs(value - facts.lines) <= CENT),
        "eq_net_tax": float(any(abs(value - s) <= CENT for s in facts.sums)),
        "rounded_step": float(facts.rounding and value % STEP == 0),
        "near_rounded": float(facts.rounding and value % STEP != 0 and any(abs(v - value) <= STEP for v in steps)),
        "currency": float(a.amount.currency is not None),
        "read_conf": read_confidence(a.words),
        "rightmost": float(last),
        "negative": float(a.amount.value < 0),
    }
    before = [h for h in hits if h.x1 <= a.words[0].x0 + 1]
    # Provenance names the label that stands before the amount, as a person would point at it.
    source = "label:" + " ".join(before[-1].phrase) if before else "amount on the page"
    cand = Candidate("total_amount", a.amount.value, 0.0, row, a.words, source)
    cand.extra["learned"] = True
    cand.extra["currency"] = a.amount.currency
    cand.extra["decimals"] = True
    return Scored(cand, f)


def net_tax_sums(nets: list[Candidate], taxes: list[Candidate]) -> frozenset[Decimal]:
    return frozenset(n.value + t.value for n, t in product(nets[:4], taxes[:4]) if n is not t)
