"""Document totals: labelled amount candidates, then the most consistent reading of them.

Labels alone are ambiguous ("Total" may be net or gross; "Nett Total" on a Malaysian receipt is
the amount paid). So every labelled amount becomes a candidate, and the chosen combination is
the one with the best label evidence that also adds up: net + tax = total, total - prepaid =
due, cash - change = total.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from itertools import product

from ledgerlens.pipeline.engines.ocr.finder.lexicon import NOT_TOTALS
from ledgerlens.pipeline.engines.ocr.finder.values import amounts_in, money_in, percent_in
from ledgerlens.pipeline.engines.ocr.finder.view import Candidate, DocView, Region, read_confidence
from ledgerlens.pipeline.normalize import fold
from ledgerlens.pipeline.read.layout import Row

AMOUNT_FIELDS = ("total_amount", "net_amount", "tax_amount", "amount_due", "prepaid_amount", "line_total_amount")
CENT = Decimal("0.01")


def amount_candidates(view: DocView, field: str, decimal_sep: str | None) -> list[Candidate]:
    out: list[Candidate] = []
    n_pages = len(view.pages)
    for hit in view.hits(field):
        labels_here = view.labels[id(hit.row)]
        if any(h.fields & NOT_TOTALS and h is not hit and h.first_word <= hit.first_word for h in labels_here):
            continue
        strength = hit.strength(field)
        regions = view.regions(hit, below=1 if strength == 1.0 else 0)
        if view.is_header_row(hit.row):  # a heading over a table: its closing total row first
            closing = view.column_total(hit)
            regions = [closing, *regions] if closing else regions
        # "Total includes GST 6%   9.00": another label sits between this one and its amount.
        rest = hit.row.words[hit.last_word + 1 :]
        if rest:
            regions.append(Region(rest, hit.row, 0.7, "row end"))
        for region in regions:
            found = money_in(region.words, decimal_sep=decimal_sep)
            if found is None or (not found.has_decimals and abs(found.amount.value) >= 1_000_000):
                continue  # a long bare number after "GST Reg" is an id, not money
            conf = read_confidence(found.words)
            # Totals live low on the last page; a label there is more likely the document's total.
            page = hit.row.page
            depth = hit.row.y0 / max(view.page_height(page), 1.0)
            late = 0.9 + 0.1 * depth if page == n_pages - 1 else 0.85
            # "I 280" for "92.80": an amount without its decimals on a total line is suspect.
            shape = 1.0 if found.has_decimals else 0.4
            if field in ("total_amount", "net_amount") and _under_tax_summary(view, hit.row):
                shape *= 0.4
            score = strength * region.position * conf * late * shape
            cand = Candidate(field, found.amount.value, score, region.row, found.words, "label:" + " ".join(hit.phrase))
            cand.extra["currency"] = found.amount.currency
            cand.extra["rate"] = percent_in(hit.row.text) if field == "tax_amount" else None
            cand.extra["decimals"] = found.has_decimals
            out.append(cand)
            break
    return sorted(out, key=lambda c: -c.score)


def _under_tax_summary(view: DocView, row: Row, reach: int = 8) -> bool:
    """Is this row inside a tax summary table (a few rows under its heading)?"""
    rows = view.rows_of(row.page)
    for above in rows[max(0, row.index - reach) : row.index + 1]:
        if any("tax_summary" in h.fields for h in view.labels[id(above)]):
            return True
    return False


def payment_candidates(view: DocView, decimal_sep: str | None, labelled: bool) -> list[Candidate]:
    """Totals from the payment lines of a receipt: cash tendered - change given is what was
    paid. With no labelled total at all, cash alone, or else the largest amount on the last page
    that is not a payment line. Weak evidence, sent to review by its score."""
    cash, change = _payment_lines(view, decimal_sep)
    out: list[Candidate] = []
    if cash is not None and change is not None and cash.value >= change.value:
        paid = cash.value - change.value
        # Below a weak "Total" label (~0.45): it decides only when the label's reading is suspect.
        out.append(Candidate("total_amount", paid, 0.42, cash.row, cash.words + change.words, "paid (cash - change)"))
    elif cash is not None and not labelled:
        out.append(Candidate("total_amount", cash.value, 0.35, cash.row, cash.words, "cash tendered"))
    if not labelled and not out:
        best: Candidate | None = None
        for row in view.rows_of(len(view.pages) - 1):
            if any(h.fields & NOT_TOTALS for h in view.labels[id(row)]):
                continue
            found = money_in(row.words, decimal_sep=decimal_sep)
            if found is not None and found.has_decimals and (best is None or found.amount.value > best.value):
                best = Candidate("total_amount", found.amount.value, 0.3, row, found.words, "largest amount")
        out += [best] if best else []
    for c in out:
        c.extra["decimals"] = True
    return out


def _payment_lines(view: DocView, decimal_sep: str | None) -> tuple[Candidate | None, Candidate | None]:
    cash = change = None
    for row in view.rows:
        for hit in view.labels[id(row)]:
            if not hit.fields & {"payment_cash", "payment_change"}:
                continue
            found = money_in(view.after_label(hit), decimal_sep=decimal_sep)
            if found is None or not found.has_decimals:
                continue
            cand = Candidate("payment", found.amount.value, 0.0, row, found.words, " ".join(hit.phrase))
            if "payment_change" in hit.fields:
                change = cand
            elif cash is None:
                cash = cand
    return cash, change


def rounding_adjustment(view: DocView, decimal_sep: str | None) -> Decimal | None:
    for row in view.rows:
        for hit in view.labels[id(row)]:
            if "ignore" in hit.fields and hit.phrase[0] == "rounding":
                found = money_in(view.after_label(hit), decimal_sep=decimal_sep)
                return found.amount.value if found else Decimal(0)
    return None


@dataclass
class Totals:
    chosen: dict[str, Candidate]
    consistent: bool  # net + tax = total held for the chosen amounts
    derived: dict[str, Decimal]  # the third of net/tax/total computed from the other two
    credit: bool = False  # read as a credit note: its totals may be negative


def _close(a: Decimal, b: Decimal) -> bool:
    return abs(a - b) <= CENT


def solve_totals(cands: dict[str, list[Candidate]], paid: Decimal | None = None) -> Totals:
    """Pick one candidate per amount field (or none) maximising evidence + arithmetic agreement."""
    top = {f: cands.get(f, [])[:4] for f in AMOUNT_FIELDS}
    options = {f: [*top[f], None] for f in AMOUNT_FIELDS}
    best: tuple[float, dict[str, Candidate | None], bool] | None = None
    for combo in product(*(options[f] for f in ("total_amount", "net_amount", "tax_amount"))):
        total, net, tax = combo
        # A reading with a total beats one without: the total is what the document is for.
        score = sum(c.score for c in combo if c is not None) + (total.score if total is not None else 0.0)
        consistent = False
        if total is not None and net is not None and tax is not None:
            if _close(net.value + tax.value, total.value):
                score += 1.5
                consistent = True
            else:
                score -= 0.3
        if total is not None:
            if net is not None and net.value > total.value and total.value > 0:
                score -= 1.0
            if tax is not None and abs(tax.value) >= abs(total.value) and total.value != 0:
                score -= 1.0
            if paid is not None and _close(paid, total.value) and total.source.startswith("label"):
                score += 1.0  # two readings agree: the label's and cash - change
        if net is not None and tax is not None and net is tax:
            continue
        if total is not None and net is not None and total is net and not (tax and tax.value == 0):
            score -= 0.5
        if best is None or score > best[0]:
            best = (score, {"total_amount": total, "net_amount": net, "tax_amount": tax}, consistent)
    assert best is not None
    chosen = {k: v for k, v in best[1].items() if v is not None}
    for f in ("amount_due", "prepaid_amount", "line_total_amount"):
        if top[f]:
            chosen[f] = top[f][0]
    return Totals(chosen, best[2], _derive(chosen))


def _derive(chosen: dict[str, Candidate]) -> dict[str, Decimal]:
    """Amounts that follow from two read ones: net + tax = total, total - prepaid = due."""

    def val(name: str) -> Decimal | None:
        c = chosen.get(name)
        return c.value if c is not None else None

    net, tax, total = val("net_amount"), val("tax_amount"), val("total_amount")
    out: dict[str, Decimal] = {}
    if total is not None and tax is not None and net is None:
        out["net_amount"] = total - tax
    elif total is not None and net is not None and tax is None and total >= net:
        out["tax_amount"] = total - net
    elif net is not None and tax is not None and total is None:
        out["total_amount"] = total = net + tax
    due, paid = val("amount_due"), val("prepaid_amount")
    if total is not None and due is not None and paid is None and 0 <= total - due <= total:
        out["prepaid_amount"] = total - due
    elif total is not None and paid is not None and due is None:
        out["amount_due"] = total - paid
    return out


_RATE = re.compile(r"(\d{1,2}(?:[.,]\d{1,3})?)\s?%")
_BASIS_HEAD = re.compile(r"^(netto|net|basis|base|base ht|base tva|grondslag|basisbetrag|amount|amt|excl)")
_TAX_HEAD = re.compile(r"^(steuer|tax|tva|vat|gst|mwst betrag|montant tva|btw|iva|cuota)")


@dataclass
class TaxEntry:
    rate: Decimal
    basis: Decimal | None  # None when the page does not print it beside the rate
    tax: Decimal


def tax_breakdown(view: DocView, decimal_sep: str | None) -> list[TaxEntry]:
    """VAT per rate: "MwSt. 19 % auf 89,77   17,06", "VAT 20%   435.34", or a small table under
    Rate | Net | Tax headings. Each entry: rate, basis (None when not printed), tax."""
    out: dict[Decimal, TaxEntry] = {}
    for row in view.rows:
        hits = view.labels[id(row)]
        if not any("tax_amount" in h.fields and h.strength("tax_amount") == 1.0 for h in hits):
            continue
        if any(h.fields & {"tax_summary", "vat_id"} - {"tax_amount"} and "tax_amount" not in h.fields for h in hits):
            continue
        m = _RATE.search(row.text)
        if not m:
            continue
        rate = Decimal(m.group(1).replace(",", "."))
        at = next((i for i, w in enumerate(row.words) if "%" in w.text), 0)  # amounts after the rate
        found = [a for a in amounts_in(row.words[at + 1 :], decimal_sep=decimal_sep) if a.has_decimals]
        if not found:
            continue
        basis = found[0].amount.value if len(found) >= 2 else None
        out.setdefault(rate, TaxEntry(rate, basis, found[-1].amount.value))
    return list(out.values()) or _breakdown_table(view, decimal_sep)


def _breakdown_table(view: DocView, decimal_sep: str | None) -> list[TaxEntry]:
    for lay in view.layouts:
        for i, row in enumerate(lay.rows):
            heads = [fold(seg.text).strip(" .:") for seg in row.segments]
            basis_col = next((k for k, h in enumerate(heads) if _BASIS_HEAD.match(h)), None)
            tax_col = next((k for k, h in enumerate(heads) if _TAX_HEAD.match(h) and k != basis_col), None)
            if basis_col is None or tax_col is None:
                continue
            centres = [(seg.x0 + seg.x1) / 2 for seg in row.segments]
            entries: list[TaxEntry] = []
            for below in lay.rows[i + 1 : i + 8]:
                m = _RATE.search(below.text)
                found = [a for a in amounts_in(below.words, decimal_sep=decimal_sep) if a.has_decimals]
                if not m or len(found) < 2:
                    break
                rate = Decimal(m.group(1).replace(",", "."))
                by_col: dict[int, Decimal] = {}
                for a in found:
                    x = (a.words[0].x0 + a.words[-1].x1) / 2
                    nearest = min(range(len(centres)), key=lambda k: abs(centres[k] - x))
                    by_col[nearest] = a.amount.value
                if basis_col in by_col and tax_col in by_col:
                    entries.append(TaxEntry(rate, by_col[basis_col], by_col[tax_col]))
            if entries:
                return entries
    return []
