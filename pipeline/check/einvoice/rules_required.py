"""EN 16931 rules on what an invoice must contain (BR-01 .. BR-27, BR-CO-04/-18/-25) and the VAT
category rules on lines and the breakdown (BR-<category>-02/-05/-10)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from ledgerlens.pipeline.check.einvoice.facts import ZERO, Facts, category_rule, dec, rule
from ledgerlens.pipeline.types import Issue

# (rule, field, business term) of single values an EN 16931 invoice must have.
REQUIRED_FIELDS = (
    ("BR-02", "invoice_number", "the invoice number (BT-1)"),
    ("BR-03", "date", "the invoice issue date (BT-2)"),
    ("BR-04", "document_type_code", "the invoice type code (BT-3)"),
    ("BR-05", "currency", "the invoice currency code (BT-5)"),
    ("BR-06", "vendor_name", "the seller name (BT-27)"),
    ("BR-07", "buyer_name", "the buyer name (BT-44)"),
    ("BR-09", "vendor_country", "the seller country code (BT-40)"),
    ("BR-11", "buyer_country", "the buyer country code (BT-55)"),
    ("BR-12", "line_total_amount", "the sum of invoice line net amounts (BT-106)"),
    ("BR-13", "net_amount", "the invoice total without VAT (BT-109)"),
    ("BR-14", "total_amount", "the invoice total with VAT (BT-112)"),
    ("BR-15", "amount_due", "the amount due for payment (BT-115)"),
)
# (rule, line key, business term) every invoice line must have.
REQUIRED_LINE_FIELDS = (
    ("BR-21", "line_id", "an invoice line identifier (BT-126)"),
    ("BR-22", "quantity", "an invoiced quantity (BT-129)"),
    ("BR-23", "unit", "a unit of measure code (BT-130)"),
    ("BR-24", "amount", "an invoice line net amount (BT-131)"),
    ("BR-25", "description", "an item name (BT-153)"),
    ("BR-26", "unit_price", "an item net price (BT-146)"),
    ("BR-CO-04", "tax_category", "an invoiced item VAT category code (BT-151)"),
)
ZERO_RATED_LINES = ("Z", "E", "AE", "K", "G")  # BR-<category>-05: the line's VAT rate is 0
EXEMPT_ROWS = ("E", "AE", "K", "G", "O")  # BR-<category>-10: the row says why no VAT is due


def _required(f: Facts) -> Iterator[Issue]:
    if not f.inv.customization_id:
        yield rule("BR-01", "the specification identifier (BT-24) is missing", None)
    for rule_id, key, what in REQUIRED_FIELDS:
        if f.fields.get(key) in (None, ""):
            yield rule(rule_id, f"{what} is missing", key)
    if not f.inv.seller_address:
        yield rule("BR-08", "the seller postal address (BG-5) is missing", "vendor_address")
    if not f.inv.buyer_address:
        yield rule("BR-10", "the buyer postal address (BG-8) is missing", "buyer_address")
    if not f.lines:
        yield rule("BR-16", "the invoice has no invoice line (BG-25)", "line_items")
    if not f.rows:
        yield rule("BR-CO-18", "the invoice has no VAT breakdown (BG-23)", "tax_breakdown")
    due = f.amount("amount_due")
    if due is not None and due > 0 and not (f.fields.get("due_date") or f.fields.get("payment_terms")):
        yield rule(
            "BR-CO-25", f"{due} is due for payment but neither a due date (BT-9) nor payment terms (BT-20) are given"
        )


def _required_on_lines(f: Facts) -> Iterator[Issue]:
    for i, line in enumerate(f.lines):
        for rule_id, key, what in REQUIRED_LINE_FIELDS:
            if line.get(key) in (None, ""):
                yield rule(rule_id, f"invoice line {i + 1} has no {what.removeprefix('an ').removeprefix('a ')}",
                           f"line_items[{i}].{key}")  # fmt: skip
        price = dec(line.get("unit_price"))
        if price is not None and price < 0:
            yield rule("BR-27", f"invoice line {i + 1}: the item net price (BT-146) {price} is negative",
                       f"line_items[{i}].unit_price")  # fmt: skip


def _seller_vat_id(f: Facts) -> Iterator[Issue]:
    """BR-S-02 and kin: taxed lines need the seller's VAT identifier (or tax number, or tax representative)."""
    seller = f.fields.get("vendor_vat_id") or f.fields.get("vendor_tax_number") or f.inv.tax_representative_vat_id
    for category in ("S", "Z", "E", "AE", "K", "G", "L", "M"):
        if any(line.get("tax_category") == category for line in f.lines) and not seller:
            yield rule(
                str(category_rule(category, "02")),
                f"an invoice line is VAT category {category} but the seller has no VAT identifier (BT-31), tax "
                "registration (BT-32) or tax representative (BT-63)",
                "vendor_vat_id",
            )
    if any(line.get("tax_category") == "AE" for line in f.lines) and not f.fields.get("buyer_vat_id"):
        yield rule("BR-AE-02", "an invoice line is reverse charge (AE) but the buyer VAT identifier (BT-48) is missing",
                   "buyer_vat_id")  # fmt: skip


def _line_rates(f: Facts) -> Iterator[Issue]:
    for i, line in f.taxed_lines():
        category, rate = line.get("tax_category"), dec(line.get("tax_rate"))
        if category == "S" and rate is not None and rate <= ZERO:
            yield rule("BR-S-05", f"invoice line {i + 1} is standard rated (S) but its VAT rate (BT-152) is {rate}",
                       f"line_items[{i}].tax_rate")  # fmt: skip
        elif category in ZERO_RATED_LINES and rate is not None and rate != ZERO:
            yield rule(f"BR-{category}-05", f"invoice line {i + 1} is VAT category {category}, whose rate must be 0, "
                       f"but its VAT rate (BT-152) is {rate}", f"line_items[{i}].tax_rate")  # fmt: skip


def _exemption_reasons(f: Facts) -> Iterator[Issue]:
    for i, row in enumerate(f.rows):
        category = row.get("category")
        if category in EXEMPT_ROWS and not (row.get("exemption_reason") or row.get("exemption_reason_code")):
            yield rule(
                f"BR-{category}-10",
                f"VAT row {i + 1} is VAT category {category} but gives no exemption reason (BT-120) or code (BT-121)",
                f"tax_breakdown[{i}]",
            )


REQUIRED_RULES: list[Callable[[Facts], Iterator[Issue]]] = [
    _required,
    _required_on_lines,
    _seller_vat_id,
    _line_rates,
    _exemption_reasons,
]
