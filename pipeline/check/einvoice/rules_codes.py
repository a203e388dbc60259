"""EN 16931 code-list rules (BR-CL-*, BR-CO-09) and decimal rules (BR-DEC-*)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from ledgerlens.pipeline.check.einvoice.codes import code_list
from ledgerlens.pipeline.check.einvoice.facts import Facts, rule
from ledgerlens.pipeline.types import Issue

# (rule, field, list, what the code is) for codes on the invoice itself.
HEADER_CODES = (
    ("BR-CL-01", "document_type_code", "type_codes", "invoice type code (BT-3) of UNTDID 1001"),
    ("BR-CL-04", "currency", "currencies", "currency code (BT-5) of ISO 4217"),
    ("BR-CL-14", "vendor_country", "countries", "seller country code (BT-40) of ISO 3166-1"),
    ("BR-CL-14", "buyer_country", "countries", "buyer country code (BT-55) of ISO 3166-1"),
    ("BR-CL-16", "payment_means_code", "payment_means", "payment means code (BT-81) of UNCL 4461"),
)
# (rule, list field, item key, list, what the code is) for codes in lists.
ITEM_CODES = (
    ("BR-CL-17", "line_items", "tax_category", "vat_categories", "invoiced item VAT category (BT-151) of UNCL 5305"),
    ("BR-CL-23", "line_items", "unit", "units", "unit of measure (BT-130) of UN/ECE Recommendation 20/21"),
    ("BR-CL-18", "tax_breakdown", "category", "vat_categories", "VAT category code (BT-118) of UNCL 5305"),
    ("BR-CL-18", "allowances_charges", "tax_category", "vat_categories", "VAT category (BT-95/BT-102) of UNCL 5305"),
)
# (rule, field, business term) of amounts that may carry at most two decimals.
DECIMALS = (
    ("BR-DEC-09", "line_total_amount", "BT-106"),
    ("BR-DEC-10", "allowance_total_amount", "BT-107"),
    ("BR-DEC-11", "charge_total_amount", "BT-108"),
    ("BR-DEC-12", "net_amount", "BT-109"),
    ("BR-DEC-13", "tax_amount", "BT-110"),
    ("BR-DEC-14", "total_amount", "BT-112"),
    ("BR-DEC-16", "prepaid_amount", "BT-113"),
    ("BR-DEC-17", "rounding_amount", "BT-114"),
    ("BR-DEC-18", "amount_due", "BT-115"),
)
ITEM_DECIMALS = (
    ("BR-DEC-19", "tax_breakdown", "basis_amount", "BT-116", None),
    ("BR-DEC-20", "tax_breakdown", "tax_amount", "BT-117", None),
    ("BR-DEC-23", "line_items", "amount", "BT-131", None),
    ("BR-DEC-01", "allowances_charges", "amount", "BT-92", "allowance"),
    ("BR-DEC-02", "allowances_charges", "base_amount", "BT-93", "allowance"),
    ("BR-DEC-05", "allowances_charges", "amount", "BT-99", "charge"),
    ("BR-DEC-06", "allowances_charges", "base_amount", "BT-100", "charge"),
)


def _header_codes(f: Facts) -> Iterator[Issue]:
    for rule_id, key, name, what in HEADER_CODES:
        value = f.fields.get(key)
        if value not in (None, "") and str(value) not in code_list(name):
            yield rule(rule_id, f"{value!r} is not a {what}", key)


def _item_codes(f: Facts) -> Iterator[Issue]:
    for rule_id, list_key, key, name, what in ITEM_CODES:
        for i, item in enumerate(f.fields.get(list_key) or []):
            value = item.get(key)
            if value not in (None, "") and str(value) not in code_list(name):
                yield rule(rule_id, f"{list_key}[{i}]: {value!r} is not a {what}", f"{list_key}[{i}].{key}")


def _vat_id_prefixes(f: Facts) -> Iterator[Issue]:
    countries = code_list("countries") | {"EL"}  # Greece's VAT ids start with EL
    ids = (
        ("vendor_vat_id", f.fields.get("vendor_vat_id"), "seller VAT identifier (BT-31)"),
        ("buyer_vat_id", f.fields.get("buyer_vat_id"), "buyer VAT identifier (BT-48)"),
        ("vendor_vat_id", f.inv.tax_representative_vat_id, "seller tax representative VAT identifier (BT-63)"),
    )
    for key, value, what in ids:
        if value and str(value)[:2].upper() not in countries:
            yield rule("BR-CO-09", f"the {what} {value} does not start with an ISO 3166-1 country code", key)


def _places(value: object) -> int:
    text = str(value).strip()
    return len(text.partition(".")[2]) if "." in text else 0


def _decimals(f: Facts) -> Iterator[Issue]:
    for rule_id, key, bt in DECIMALS:
        value = f.fields.get(key)
        if value not in (None, "") and _places(value) > 2:
            yield rule(rule_id, f"{key} ({bt}) reads {value}: at most two decimals are allowed", key)
    for rule_id, list_key, key, bt, kind in ITEM_DECIMALS:
        for i, item in enumerate(f.fields.get(list_key) or []):
            value = item.get(key)
            if (kind is None or item.get("kind") == kind) and value not in (None, "") and _places(value) > 2:
                where = f"{list_key}[{i}].{key}"
                yield rule(rule_id, f"{where} ({bt}) reads {value}: at most two decimals are allowed", where)


CODE_RULES: list[Callable[[Facts], Iterator[Issue]]] = [_header_codes, _item_codes, _vat_id_prefixes, _decimals]
