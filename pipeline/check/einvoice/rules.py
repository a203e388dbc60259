"""EN 16931 business rules in Python: each failure is an issue whose code is the rule id.

Which rules run:
- the calculation rules (BR-CO-10 .. BR-CO-17, BR-<category>-08/-09, BR-29), the code lists
  (BR-CL-*, BR-CO-09) and the decimals (BR-DEC-*) on every XML invoice: arithmetic holds in any
  profile, and a code outside its list is wrong anywhere;
- the mandatory elements and the VAT category rules (BR-01 .. BR-27, BR-CO-04/-18/-25,
  BR-<category>-02/-05/-10) only on invoices that claim EN 16931 (or claim nothing): Factur-X
  MINIMUM / BASIC WL and ZUGFeRD 1.0 are not EN 16931 invoices and may leave them out.

The arithmetic is exact to the cent, as the standard's text says ("rounded to two decimals");
the CEN schematron tolerates up to one currency unit in BR-CO-17 and BR-S-08/-09, we do not.
The rules are written from the standard's text (their ids and business terms BT-n); the code
lists come from `codes.py`. Syntax (the official XSD) is `xsd.py`'s job.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import ROUND_HALF_UP, Decimal

from ledgerlens.pipeline.check.einvoice.facts import ZERO, Facts, category_rule, dec, money, rule
from ledgerlens.pipeline.check.einvoice.model import XmlInvoice
from ledgerlens.pipeline.check.einvoice.rules_codes import CODE_RULES
from ledgerlens.pipeline.check.einvoice.rules_required import REQUIRED_RULES
from ledgerlens.pipeline.types import Issue

Rule = Callable[[Facts], Iterator[Issue]]
# UNCL 5305 categories of EN 16931 whose taxable amount is checked per rate (the others per category).
RATED = frozenset({"S", "L", "M"})
NO_TAX = ("Z", "E", "AE", "K", "G", "O")


def check_rules(inv: XmlInvoice) -> list[Issue]:
    """Every EN 16931 rule that applies to `inv` and fails, in rule order."""
    facts = Facts(inv)
    rules: list[Rule] = [*CALCULATION_RULES, *CODE_RULES]
    if inv.claims_en16931:
        rules += REQUIRED_RULES
    return [issue for check in rules for issue in check(facts)]


def rules_applied(inv: XmlInvoice) -> str:
    if inv.claims_en16931:
        return "EN 16931: calculation, mandatory elements, VAT categories, code lists, decimals"
    return f"EN 16931 calculation, code lists and decimals ({inv.customization} is not an EN 16931 profile)"


def _equal(stated: Decimal | None, expected: Decimal | None) -> bool:
    return stated is None or expected is None or stated == expected.quantize(Decimal("0.01"), ROUND_HALF_UP)


def _br_co_10(f: Facts) -> Iterator[Issue]:
    stated, amounts = f.amount("line_total_amount"), f.sum_of([line for _, line in f.summed_lines()], "amount")
    if f.lines and not _equal(stated, amounts):
        yield rule(
            "BR-CO-10",
            f"the invoice line net amounts (BT-131) add up to {money(amounts or ZERO)}, but the sum of invoice "
            f"line net amounts (BT-106) reads {stated}",
            "line_total_amount",
        )


def _br_co_11_12(f: Facts) -> Iterator[Issue]:
    for rule_id, kind, key, bt, item_bt in (
        ("BR-CO-11", "allowance", "allowance_total_amount", "BT-107", "BT-92"),
        ("BR-CO-12", "charge", "charge_total_amount", "BT-108", "BT-99"),
    ):
        items = f.allowances_charges(kind)
        stated, total = f.amount(key), f.sum_of(items, "amount")
        if (items or stated is not None) and not _equal(stated if stated is not None else ZERO, total):
            yield rule(
                rule_id,
                f"the {len(items)} document level {kind}s ({item_bt}) add up to {money(total or ZERO)}, but the sum "
                f"of {kind}s ({bt}) reads {stated if stated is not None else 'nothing'}",
                key,
            )


def _br_co_13(f: Facts) -> Iterator[Issue]:
    lines, net = f.amount("line_total_amount"), f.amount("net_amount")
    allowances, charges = f.amount("allowance_total_amount") or ZERO, f.amount("charge_total_amount") or ZERO
    if lines is not None and net is not None and not _equal(net, lines - allowances + charges):
        yield rule(
            "BR-CO-13",
            f"lines {lines} - allowances {allowances} + charges {charges} = {money(lines - allowances + charges)}, "
            f"but the invoice total without VAT (BT-109) reads {net}",
            "net_amount",
        )


def _br_co_14(f: Facts) -> Iterator[Issue]:
    stated, rows = f.amount("tax_amount"), f.sum_of(f.rows, "tax_amount")
    if f.rows and stated is not None and not _equal(stated, rows):
        yield rule(
            "BR-CO-14",
            f"the VAT breakdown's tax amounts (BT-117) add up to {money(rows or ZERO)}, but the invoice total VAT "
            f"amount (BT-110) reads {stated}",
            "tax_amount",
        )


def _br_co_15_16(f: Facts) -> Iterator[Issue]:
    net, tax, total = f.amount("net_amount"), f.amount("tax_amount") or ZERO, f.amount("total_amount")
    if net is not None and total is not None and not _equal(total, net + tax):
        yield rule(
            "BR-CO-15",
            f"total without VAT {net} + VAT {tax} = {money(net + tax)}, but the invoice total with VAT (BT-112) "
            f"reads {total}",
            "total_amount",
        )
    paid, rounding = f.amount("prepaid_amount") or ZERO, f.amount("rounding_amount") or ZERO
    due = f.amount("amount_due")
    if total is not None and due is not None and not _equal(due, total - paid + rounding):
        yield rule(
            "BR-CO-16",
            f"total {total} - paid {paid} + rounding {rounding} = {money(total - paid + rounding)}, but the amount "
            f"due for payment (BT-115) reads {due}",
            "amount_due",
        )


def _br_co_17(f: Facts) -> Iterator[Issue]:
    for i, row in enumerate(f.rows):
        basis, rate, tax = dec(row.get("basis_amount")), dec(row.get("rate")), dec(row.get("tax_amount"))
        if basis is not None and rate is not None and tax is not None and not _equal(tax, basis * rate / 100):
            yield rule(
                "BR-CO-17",
                f"VAT row {i + 1} ({row.get('category', '?')}): {rate.normalize():f}% of {basis} = "
                f"{money((basis * rate / 100).quantize(Decimal('0.01'), ROUND_HALF_UP))}, but its tax amount "
                f"(BT-117) reads {tax}",
                f"tax_breakdown[{i}].tax_amount",
            )


def _taxable(f: Facts, category: str, rate: Decimal | None) -> Decimal | None:
    """Σ line nets + Σ charges - Σ allowances of a category (and rate, for rated categories)."""

    def match(item: dict, cat_key: str, rate_key: str) -> bool:
        same_rate = rate is None or category not in RATED or dec(item.get(rate_key)) == rate
        return item.get(cat_key) == category and same_rate

    lines = [line for _, line in f.summed_lines() if match(line, "tax_category", "tax_rate")]
    charges = [c for c in f.allowances_charges("charge") if match(c, "tax_category", "tax_rate")]
    allowances = [a for a in f.allowances_charges("allowance") if match(a, "tax_category", "tax_rate")]
    parts = [f.sum_of(lines, "amount"), f.sum_of(charges, "amount"), f.sum_of(allowances, "amount")]
    if any(p is None for p in parts) or not (lines or charges or allowances):
        return None
    return parts[0] + parts[1] - parts[2]  # type: ignore[operator]


def _br_category_08_09(f: Facts) -> Iterator[Issue]:
    yield from _zero_tax_rows(f)
    if not f.lines or f.has_groups:
        return  # no lines (MINIMUM, BASIC WL), or groups whose VAT is split over their sub-lines
    for i, row in enumerate(f.rows):
        category, basis = str(row.get("category") or ""), dec(row.get("basis_amount"))
        if category_rule(category, "08") is None:
            continue
        expected = _taxable(f, category, dec(row.get("rate")))
        if basis is not None and expected is not None and not _equal(basis, expected):
            yield rule(
                str(category_rule(category, "08")),
                f"VAT row {i + 1} ({category} {row.get('rate', '')}%): its lines and charges less allowances of "
                f"that category add up to {money(expected)}, but its taxable amount (BT-116) reads {basis}",
                f"tax_breakdown[{i}].basis_amount",
            )


def _zero_tax_rows(f: Facts) -> Iterator[Issue]:
    for i, row in enumerate(f.rows):
        category, tax = str(row.get("category") or ""), dec(row.get("tax_amount"))
        if category in NO_TAX and tax is not None and tax != 0:
            yield rule(
                str(category_rule(category, "09")),
                f"VAT row {i + 1} is category {category}, whose tax amount (BT-117) must be 0, but it reads {tax}",
                f"tax_breakdown[{i}].tax_amount",
            )


def _br_29(f: Facts) -> Iterator[Issue]:
    start, end = f.fields.get("billing_period_start"), f.fields.get("billing_period_end")
    if start and end and str(end) < str(start):
        yield rule(
            "BR-29", f"the invoicing period ends ({end}, BT-74) before it starts ({start}, BT-73)", "billing_period_end"
        )


CALCULATION_RULES: list[Rule] = [
    _br_co_10,
    _br_co_11_12,
    _br_co_13,
    _br_co_14,
    _br_co_15_16,
    _br_co_17,
    _br_category_08_09,
    _br_29,
]
