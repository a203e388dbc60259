"""EN 16931 rules: each rule we implement passes on a generated invoice and fails when its one
fact is broken. Invoices come from the sample generator (tests/fixtures/samples/einvoices.py),
are written as XML, read back, and then changed in memory the way a broken generator would."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest
from fixtures.samples.einvoice_xml import cii_xml, ubl_xml
from fixtures.samples.einvoices import facturx_credit_note_spec, xrechnung_cii_spec, xrechnung_ubl_spec
from ledgerlens.pipeline.check.einvoice import XmlInvoice, parse_einvoice_xml
from ledgerlens.pipeline.check.einvoice.codes import code_list
from ledgerlens.pipeline.check.einvoice.rules import check_rules
from ledgerlens.pipeline.types import Severity


def _ubl() -> XmlInvoice:
    return parse_einvoice_xml(ubl_xml(xrechnung_ubl_spec(random.Random(3))))


def _cii() -> XmlInvoice:
    """Two standard rates and a VAT-exempt line (category E): the last VAT row is E."""
    return parse_einvoice_xml(cii_xml(xrechnung_cii_spec(random.Random(3))))


def _codes(inv: XmlInvoice) -> list[str]:
    return [i.code for i in check_rules(inv)]


def _drop(key: str) -> Callable[[XmlInvoice], Any]:
    return lambda inv: inv.fields.pop(key)


def _set(key: str, value: Any) -> Callable[[XmlInvoice], Any]:
    return lambda inv: inv.fields.__setitem__(key, value)


def _line(key: str, value: Any = None) -> Callable[[XmlInvoice], Any]:
    """Line 1 loses `key`, or gets `value` for it."""
    return lambda inv: (
        inv.fields["line_items"][0].pop(key) if value is None else inv.fields["line_items"][0].update({key: value})
    )


def _row(index: int, key: str, value: Any) -> Callable[[XmlInvoice], Any]:
    def change(inv: XmlInvoice) -> None:
        row = inv.fields["tax_breakdown"][index]
        if value is None:
            row.pop(key, None)
        else:
            row[key] = value

    return change


def _plus_one(key: str) -> Callable[[XmlInvoice], Any]:
    return lambda inv: inv.fields.__setitem__(key, f"{float(inv.fields[key]) + 1:.2f}")  # test data only


def _attr(name: str, value: Any) -> Callable[[XmlInvoice], Any]:
    return lambda inv: setattr(inv, name, value)


def _no_seller_tax_ids(inv: XmlInvoice) -> None:
    inv.fields.pop("vendor_vat_id")
    inv.fields.pop("vendor_tax_number")


def _reverse_charge_line(inv: XmlInvoice) -> None:
    inv.fields["line_items"][0].update({"tax_category": "AE", "tax_rate": "0"})


UBL_CASES: list[tuple[str, Callable[[XmlInvoice], Any]]] = [
    ("BR-01", _attr("customization_id", None)),
    ("BR-02", _drop("invoice_number")),
    ("BR-03", _drop("date")),
    ("BR-04", _drop("document_type_code")),
    ("BR-05", _drop("currency")),
    ("BR-06", _drop("vendor_name")),
    ("BR-07", _drop("buyer_name")),
    ("BR-08", _attr("seller_address", False)),
    ("BR-09", _drop("vendor_country")),
    ("BR-10", _attr("buyer_address", False)),
    ("BR-11", _drop("buyer_country")),
    ("BR-12", _drop("line_total_amount")),
    ("BR-13", _drop("net_amount")),
    ("BR-14", _drop("total_amount")),
    ("BR-15", _drop("amount_due")),
    ("BR-16", _set("line_items", [])),
    ("BR-21", _line("line_id")),
    ("BR-22", _line("quantity")),
    ("BR-23", _line("unit")),
    ("BR-24", _line("amount")),
    ("BR-25", _line("description")),
    ("BR-26", _line("unit_price")),
    ("BR-27", _line("unit_price", "-1.00")),
    ("BR-29", _set("billing_period_end", "2000-01-01")),
    ("BR-CO-04", _line("tax_category")),
    ("BR-CO-09", _set("vendor_vat_id", "XX123456789")),
    ("BR-CO-10", _plus_one("line_total_amount")),
    ("BR-CO-11", _plus_one("allowance_total_amount")),
    ("BR-CO-12", _plus_one("charge_total_amount")),
    ("BR-CO-13", _plus_one("net_amount")),
    ("BR-CO-14", _plus_one("tax_amount")),
    ("BR-CO-15", _plus_one("total_amount")),
    ("BR-CO-16", _plus_one("amount_due")),
    ("BR-CO-17", _row(0, "tax_amount", "0.01")),
    ("BR-CO-18", _set("tax_breakdown", [])),
    ("BR-CO-25", lambda inv: (inv.fields.pop("due_date"), inv.fields.pop("payment_terms"))),
    ("BR-S-02", _no_seller_tax_ids),
    ("BR-S-05", _line("tax_rate", "0")),
    ("BR-S-08", _row(0, "basis_amount", "1.00")),
    ("BR-AE-02", _reverse_charge_line),
    ("BR-CL-01", _set("document_type_code", "999")),
    ("BR-CL-04", _set("currency", "EUX")),
    ("BR-CL-14", _set("vendor_country", "XX")),
    ("BR-CL-16", _set("payment_means_code", "999")),
    ("BR-CL-17", _line("tax_category", "Q")),
    ("BR-CL-18", _row(0, "category", "Q")),
    ("BR-CL-23", _line("unit", "BOXES")),
    ("BR-DEC-09", _set("line_total_amount", "10.001")),
    ("BR-DEC-12", _set("net_amount", "10.001")),
    ("BR-DEC-14", _set("total_amount", "10.001")),
    ("BR-DEC-18", _set("amount_due", "10.001")),
    ("BR-DEC-19", _row(0, "basis_amount", "10.001")),
    ("BR-DEC-20", _row(0, "tax_amount", "10.001")),
    ("BR-DEC-23", _line("amount", "10.001")),
]
# The CII sample's last VAT row is category E (exempt).
CII_CASES: list[tuple[str, Callable[[XmlInvoice], Any]]] = [
    ("BR-E-05", lambda inv: inv.fields["line_items"][-1].update({"tax_rate": "7"})),
    ("BR-E-08", _row(-1, "basis_amount", "1.00")),
    ("BR-E-09", _row(-1, "tax_amount", "1.00")),
    ("BR-E-10", lambda inv: (_row(-1, "exemption_reason", None)(inv), _row(-1, "exemption_reason_code", None)(inv))),
]


def test_the_generated_invoices_break_no_rule() -> None:
    assert _codes(_ubl()) == []
    assert _codes(_cii()) == []
    assert _codes(parse_einvoice_xml(cii_xml(facturx_credit_note_spec(random.Random(3))))) == []


@pytest.mark.parametrize(("rule_id", "break_it"), UBL_CASES + CII_CASES, ids=[c[0] for c in UBL_CASES + CII_CASES])
def test_each_rule_fails_when_its_fact_is_broken(rule_id: str, break_it: Callable[[XmlInvoice], Any]) -> None:
    inv = _cii() if rule_id.startswith("BR-E-") else _ubl()
    break_it(inv)
    issues = check_rules(inv)
    found = [i for i in issues if i.code == rule_id]
    assert found, [i.code for i in issues]
    assert all(i.severity is Severity.ERROR and i.stage == "einvoice" for i in found)
    assert found[0].message.startswith(f"{rule_id}: ")


def test_a_broken_total_names_the_numbers() -> None:
    inv = _ubl()
    inv.fields["line_total_amount"] = "1.00"
    (issue,) = [i for i in check_rules(inv) if i.code == "BR-CO-10"]
    assert issue.field == "line_total_amount"
    assert "reads 1.00" in issue.message and "(BT-106)" in issue.message


def test_profiles_that_are_not_en16931_skip_the_mandatory_rules() -> None:
    inv = _ubl()
    inv.customization_id = "urn:factur-x.eu:1p0:minimum"
    inv.fields["line_items"] = []
    inv.fields.pop("vendor_country")
    assert _codes(inv) == []  # no BR-16, no BR-09: MINIMUM carries neither
    inv.fields["total_amount"] = "1.00"
    assert "BR-CO-15" in _codes(inv)  # the arithmetic still holds for every profile


def test_sub_invoice_lines_are_not_summed() -> None:
    inv = _ubl()
    lines = inv.fields["line_items"]
    group_total = sum(float(x["amount"]) for x in lines)
    inv.fields["line_items"] = [{**lines[0], "amount": f"{group_total:.2f}", "tax_rate": "0"}, *lines]
    inv.line_roles = ["group"] + ["sub"] * len(lines)  # Factur-X EXTENDED: a GROUP line and its DETAIL lines
    assert _codes(inv) == []


def test_the_code_lists_are_the_standards() -> None:
    assert {"C62", "H87", "HUR", "XBX", "LTR"} <= code_list("units") and len(code_list("units")) > 2000
    assert {"EUR", "USD", "CHF"} <= code_list("currencies") and "EUX" not in code_list("currencies")
    assert {"DE", "FR", "IE", "1A"} <= code_list("countries") and "XX" not in code_list("countries")
    assert {"380", "381", "384", "386", "389"} <= code_list("type_codes")
    assert code_list("vat_categories") == {"S", "Z", "E", "AE", "K", "G", "O", "L", "M"}
    assert {"30", "31", "58", "59"} <= code_list("payment_means")
