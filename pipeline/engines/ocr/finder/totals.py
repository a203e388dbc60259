"""The totals of an invoice or a receipt: the learned total, then net and tax that agree with it.

`learned.py` scores every amount as the total; the best few go to `solve_totals` with the
labelled net, tax, due and prepaid amounts, so that the arithmetic (net + tax = total) decides
between close candidates. A total is never negative unless the document is a credit note: one
the classifier calls so, or one whose strongly labelled total and net are both printed negative
(a credit note that does not say its name: what it prints is money going back).
"""

from __future__ import annotations

from decimal import Decimal

from ledgerlens.pipeline.engines.ocr.finder.amounts import (
    AMOUNT_FIELDS,
    Totals,
    _payment_lines,
    _under_tax_summary,
    amount_candidates,
    solve_totals,
)
from ledgerlens.pipeline.engines.ocr.finder.learned import PageFacts, Scored, net_tax_sums, total_candidates
from ledgerlens.pipeline.engines.ocr.finder.tables import Item
from ledgerlens.pipeline.engines.ocr.finder.values import amounts_in
from ledgerlens.pipeline.engines.ocr.finder.view import Candidate, DocView

ROUNDING_STEP = Decimal("0.05")
ROUNDING_GAP = Decimal("0.02")  # rounding to the nearest 0.05 moves a total by at most 2 cents
TOP = 3  # learned candidates (distinct values) the arithmetic may choose among
WEIGHT = 2.0  # a learned probability counts this much against a label's score in the arithmetic


def page_facts(view: DocView, dec: str | None, cands: dict[str, list[Candidate]], items: list[Item]) -> PageFacts:
    cash, change = _payment_lines(view, dec)
    paid = cash.value - change.value if cash is not None and change is not None and cash.value >= change.value else None
    amounts = [Decimal(it.data["amount"]) for it in items if it.data.get("amount")]
    rounding = prints_rounding(view)
    return PageFacts(
        paid=paid,
        cash=cash.value if cash is not None else None,
        lines=sum(amounts, Decimal(0)) if amounts else None,
        sums=net_tax_sums(cands.get("net_amount", []), cands.get("tax_amount", [])),
        rounding=rounding,
    )


def scored_totals(
    view: DocView, dec: str | None, cands: dict[str, list[Candidate]], items: list[Item], credit: bool
) -> list[Scored]:
    """Every amount scored as the total (best first); negative ones only on a credit note."""
    facts = page_facts(view, dec, cands, items)
    scored = total_candidates(view, dec, facts, lambda row: _under_tax_summary(view, row))
    return [s for s in scored if credit or s.candidate.value > 0]


def prints_credit(cands: dict[str, list[Candidate]]) -> bool:
    """Its strongly labelled totals and nets are all negative, and there is one of each."""
    strong = [c for f in ("total_amount", "net_amount") for c in cands[f] if c.score >= 0.8]
    kinds = {c.field for c in strong}
    return kinds == {"total_amount", "net_amount"} and all(c.value < 0 for c in strong)


def document_totals(view: DocView, dec: str | None, items: list[Item], *, credit: bool) -> tuple[Totals, list[Scored]]:
    """The totals, and every amount scored as the total. `Totals.credit` says whether the
    document was read as a credit note (negative totals kept)."""
    cands = {f: amount_candidates(view, f, dec) for f in AMOUNT_FIELDS}
    credit = credit or prints_credit(cands)
    if not credit:  # "-5.00" on an invoice is a discount or an adjustment, never what is owed
        for f in ("total_amount", "net_amount", "amount_due"):
            cands[f] = [c for c in cands[f] if c.value >= 0]
    scored = scored_totals(view, dec, cands, items, credit)
    top: list[Candidate] = []
    for s in scored:
        if len(top) >= TOP:
            break
        if all(c.value != s.candidate.value for c in top):
            s.candidate.score = WEIGHT * s.probability
            top.append(s.candidate)
    cands["total_amount"] = top
    totals = solve_totals(cands)
    chosen = totals.chosen.get("total_amount")
    if chosen is not None:
        chosen.score /= WEIGHT  # back to a probability: the field's confidence
        totals.chosen["total_amount"] = cash_rounded(view, dec, chosen)
    totals.credit = credit
    return totals, scored


def prints_rounding(view: DocView) -> bool:
    return any(
        "ignore" in h.fields and h.phrase and h.phrase[0] == "rounding" for r in view.rows for h in view.labels[id(r)]
    )


def cash_rounded(view: DocView, dec: str | None, total: Candidate) -> Candidate:
    """On a page that prints a rounding line, a total off the 0.05 step is the amount before
    rounding: the total is the rounded amount printed at or below it (what was paid)."""
    if total.value % ROUNDING_STEP == 0 or not prints_rounding(view):
        return total
    for row in view.rows_of(total.row.page)[total.row.index :]:
        for a in amounts_in(row.words, decimal_sep=dec):
            gap = abs(a.amount.value - total.value)
            if a.has_decimals and a.amount.value % ROUNDING_STEP == 0 and 0 < gap <= ROUNDING_GAP:
                rounded = Candidate(total.field, a.amount.value, total.score, row, a.words, total.source + " (rounded)")
                rounded.extra = dict(total.extra)
                return rounded
    return total
