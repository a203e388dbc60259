"""Validation: schema first, then the checks an accountant does by hand, each failure an issue with
the numbers involved so a reviewer sees at once why a document was held back."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from ledgerlens.pipeline.check.validate import business_issues, confidence_issues, validate
from ledgerlens.pipeline.doctypes.schemas import load_schemas
from ledgerlens.pipeline.types import Issue, Severity

SCHEMAS = load_schemas()
INVOICE = SCHEMAS["invoice"]
# A workspace type with no key fields: only the check under test speaks.
KEYS = {name: schema.card.key_fields for name, schema in load_schemas().items()}

GOOD_INVOICE: dict[str, Any] = {
    "invoice_number": "INV-1",
    "date": "2025-03-03",
    "due_date": "2025-04-02",
    "vendor_name": "Acme",
    "currency": "EUR",
    "iban": "DE89370400440532013000",
    "net_amount": "100.00",
    "tax_amount": "19.00",
    "total_amount": "119.00",
    "prepaid_amount": "19.00",
    "amount_due": "100.00",
    "tax_breakdown": [
        {"rate": "19", "basis_amount": "60.00", "tax_amount": "11.40"},
        {"rate": "19", "basis_amount": "40.00", "tax_amount": "7.60"},
    ],
    "line_items": [
        {"description": "Paper", "quantity": "10", "unit_price": "6.00", "amount": "60.00"},
        {"description": "Toner", "quantity": "2", "unit_price": "20.00", "amount": "40.00"},
    ],
}

GOOD_STATEMENT: dict[str, Any] = {
    "iban": "GB29NWBK60161331926819",
    "currency": "GBP",
    "period_start": "2025-03-01",
    "period_end": "2025-03-31",
    "opening_balance": "1000.00",
    "closing_balance": "880.50",
    "transactions": [
        {"date": "2025-03-03", "amount": "-119.50"},
        {"date": "2025-03-04", "amount": "-50.00"},
        {"date": "2025-03-05", "amount": "50.00"},
    ],
}


def _invoice(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(GOOD_INVOICE)
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def _codes(issues: list[Issue]) -> list[str]:
    return [i.code for i in issues]


def test_a_consistent_invoice_has_no_issue() -> None:
    assert INVOICE.errors(GOOD_INVOICE) == []
    assert validate(GOOD_INVOICE, "invoice", INVOICE) == []


def test_a_consistent_statement_has_no_issue() -> None:
    assert validate(GOOD_STATEMENT, "bank_statement", SCHEMAS["bank_statement"]) == []


def test_totals_mismatch_names_the_numbers() -> None:
    issues = validate(_invoice(total_amount="120.00", amount_due=None, prepaid_amount=None), "invoice", INVOICE)
    (issue,) = issues
    assert (issue.code, issue.field, issue.severity, issue.stage) == (
        "totals_mismatch",
        "total_amount",
        Severity.ERROR,
        "validate",
    )
    assert issue.message == "net 100.00 + tax 19.00 = 119.00, but the total reads 120.00 (difference 1.00)"


@pytest.mark.parametrize(
    ("total", "flagged"), [("119.01", False), ("118.99", False), ("119.02", True), ("118.98", True)]
)
def test_totals_tolerance_is_one_cent(total: str, flagged: bool) -> None:
    issues = business_issues(_invoice(total_amount=total, amount_due=None, prepaid_amount=None), KEYS["invoice"])
    assert ("totals_mismatch" in _codes(issues)) is flagged


def test_totals_are_checked_only_when_net_tax_and_total_are_all_present() -> None:
    data = {"tax_amount": "19.00", "total_amount": "500.00"}
    assert business_issues(data) == []
    assert _codes(business_issues({**data, "net_amount": "100.00"})) == ["totals_mismatch"]


def test_amount_due_mismatch_names_the_numbers() -> None:
    (issue,) = validate(_invoice(amount_due="119.00"), "invoice", INVOICE)
    assert (issue.code, issue.field) == ("amount_due_mismatch", "amount_due")
    assert issue.message == "total 119.00 - prepaid 19.00 = 100.00, but the amount due reads 119.00"


def test_amount_due_within_a_cent_passes() -> None:
    assert validate(_invoice(amount_due="100.01"), "invoice", INVOICE) == []
    assert _codes(validate(_invoice(amount_due="100.02"), "invoice", INVOICE)) == ["amount_due_mismatch"]


def test_line_amount_mismatch_is_a_warning_on_the_line() -> None:
    items = copy.deepcopy(GOOD_INVOICE["line_items"])
    items[1]["amount"] = "45.00"
    items.append({"description": "Fee", "amount": "-5.00"})  # no quantity/price: nothing to check
    (issue,) = validate(_invoice(line_items=items), "invoice", INVOICE)
    assert (issue.code, issue.field, issue.severity) == (
        "line_amount_mismatch",
        "line_items[1].amount",
        Severity.WARNING,
    )
    assert issue.message == "line 2: 2 × 20.00 = 40, but the line amount reads 45.00"


@pytest.mark.parametrize(("amount", "flagged"), [("60.10", False), ("59.90", False), ("60.11", True), ("59.89", True)])
def test_line_amount_allows_a_cent_per_unit(amount: str, flagged: bool) -> None:
    items = [{"description": "Paper", "quantity": "10", "unit_price": "6.00", "amount": amount}]
    issues = business_issues({"line_items": items}, KEYS["receipt"])
    assert ("line_amount_mismatch" in _codes(issues)) is flagged


@pytest.mark.parametrize(
    "target",
    [
        {"net_amount": "100.00"},
        {"total_amount": "100.00"},
        {"line_total_amount": "100.00"},
        {"net_amount": "84.03", "total_amount": "100.00"},  # gross line prices
        {"net_amount": "100.00", "total_amount": "119.00"},  # net line prices
    ],
)
def test_lines_may_add_up_to_net_or_total_or_line_total(target: dict[str, str]) -> None:
    data = {"line_items": copy.deepcopy(GOOD_INVOICE["line_items"]), **target}
    assert "line_sum_mismatch" not in _codes(business_issues(data, KEYS["receipt"]))


def test_line_sum_mismatch_names_the_sum_and_every_target() -> None:
    items = copy.deepcopy(GOOD_INVOICE["line_items"])
    del items[1]  # a line the reader missed
    issues = validate(_invoice(line_items=items, tax_breakdown=None), "invoice", INVOICE)
    (issue,) = issues
    assert (issue.code, issue.field, issue.severity) == ("line_sum_mismatch", "line_items", Severity.WARNING)
    assert "the 1 line amounts add up to 60.00" in issue.message
    assert "net_amount 100.00" in issue.message
    assert "total_amount 119.00" in issue.message


def test_line_sum_tolerance_grows_with_the_number_of_lines() -> None:
    items = [{"description": f"x{i}", "amount": "0.33"} for i in range(3)]
    # 0.99 from three lines: up to three cents off passes (rounding per line), four does not.
    assert business_issues({"line_items": items, "total_amount": "1.02"}) == []
    assert _codes(business_issues({"line_items": items, "total_amount": "1.03"})) == ["line_sum_mismatch"]
    assert _codes(business_issues({"line_items": items[:1], "total_amount": "0.35"})) == ["line_sum_mismatch"]


def test_line_sum_is_not_checked_when_a_line_has_no_amount() -> None:
    items = [{"description": "Paper", "amount": "10.00"}, {"description": "Note"}]
    assert business_issues({"line_items": items, "total_amount": "99.00"}) == []


def test_tax_breakdown_mismatch_names_the_numbers() -> None:
    rows = [{"rate": "19", "tax_amount": "11.40"}, {"rate": "7", "tax_amount": "7.00"}]
    (issue,) = validate(_invoice(tax_breakdown=rows), "invoice", INVOICE)
    assert (issue.code, issue.field, issue.severity) == ("tax_breakdown_mismatch", "tax_breakdown", Severity.ERROR)
    assert issue.message == "the tax breakdown adds up to 18.40, the tax amount reads 19.00"


def test_tax_breakdown_allows_a_cent_per_row() -> None:
    rows = [{"tax_amount": "11.39"}, {"tax_amount": "7.59"}]  # 0.02 short over two rows
    assert business_issues({"tax_amount": "19.00", "tax_breakdown": rows}) == []
    rows[0]["tax_amount"] = "11.38"
    issues = business_issues({"tax_amount": "19.00", "tax_breakdown": rows})
    assert _codes(issues) == ["tax_breakdown_mismatch"]


def test_due_before_issue() -> None:
    (issue,) = validate(_invoice(due_date="2025-03-02"), "invoice", INVOICE)
    assert (issue.code, issue.field) == ("due_before_issue", "due_date")
    assert issue.message == "the due date 2025-03-02 is before the issue date 2025-03-03"
    assert validate(_invoice(due_date="2025-03-03"), "invoice", INVOICE) == []  # due the same day is fine


def test_a_reversed_statement_period() -> None:
    data = {**GOOD_STATEMENT, "period_end": "2025-02-28"}
    (issue,) = validate(data, "bank_statement", SCHEMAS["bank_statement"])
    assert (issue.code, issue.field) == ("period_reversed", "period_end")
    assert "2025-02-28" in issue.message and "2025-03-01" in issue.message


def test_an_iban_with_a_bad_check_digit_is_flagged() -> None:
    (issue,) = validate(_invoice(iban="DE88370400440532013000"), "invoice", INVOICE)
    assert (issue.code, issue.field, issue.severity) == ("iban_invalid", "iban", Severity.ERROR)
    assert issue.message == (
        "IBAN DE88370400440532013000 fails its check digits (ISO 13616 mod 97, or the national ones): probably misread"
    )


@pytest.mark.parametrize(
    ("iban", "problem"),
    [
        ("DE8937040044053201300", "fails its check digits (ISO 13616 mod 97, or the national ones)"),
        ("DE5137040044053201300", "does not have the length or layout of a DE IBAN"),  # mod 97 holds, 1 short
        ("DE89 3704 0044 0532 0130 0Ä", "is not shaped like an IBAN (country, 2 check digits, 8-30 letters or digits)"),
        ("ES9121000418450200051332", None),  # Spain's national check digits (CCC) hold
        ("ES5321000418550200051332", "fails its check digits (ISO 13616 mod 97, or the national ones)"),
    ],
)
def test_iban_problems_name_what_is_wrong(iban: str, problem: str | None) -> None:
    issues = [i for i in business_issues({"iban": iban}) if i.code == "iban_invalid"]
    assert [i.message for i in issues] == ([f"IBAN {iban} {problem}: probably misread"] if problem else [])


def test_a_bic_must_name_a_country() -> None:
    assert business_issues({"bic": "COLSDE33XXX"}) == []
    (issue,) = business_issues({"bic": "COLSXX33XXX"})
    assert (issue.code, issue.field, issue.severity) == ("bic_invalid", "bic", Severity.ERROR)
    assert issue.message == "BIC COLSXX33XXX names no country ('XX' is not an ISO 3166 code): probably misread"


def test_a_german_vendors_tax_number_must_have_a_state_format() -> None:
    german = {"vendor_vat_id": "DE136695976"}
    assert business_issues({**german, "vendor_tax_number": "201/113/40209"}) == []
    (issue,) = business_issues({**german, "vendor_tax_number": "201/113/402"})
    assert (issue.code, issue.field, issue.severity) == ("tax_number_invalid", "vendor_tax_number", Severity.WARNING)
    assert issue.message == "tax number 201/113/402 does not have the format of a German tax number (Steuernummer)"
    # Another country's numbers (a US EIN) are not judged.
    assert business_issues({"vendor_address": "1 Main St, Austin TX, US", "vendor_tax_number": "12-3"}) == []


def test_an_unknown_currency_is_flagged_by_the_business_checks_too() -> None:
    # The schema's enum catches it first in validate(); business_issues is also used on its own.
    (issue,) = business_issues({"currency": "XXX"})
    assert (issue.code, issue.field) == ("currency_invalid", "currency")


def test_balance_mismatch_names_the_numbers() -> None:
    data = {**GOOD_STATEMENT, "closing_balance": "890.50"}
    (issue,) = validate(data, "bank_statement", SCHEMAS["bank_statement"])
    assert (issue.code, issue.field, issue.severity) == ("balance_mismatch", "closing_balance", Severity.ERROR)
    assert issue.message == "opening 1000.00 + transactions -119.50 = 880.50, but the closing balance reads 890.50"


@pytest.mark.parametrize(("closing", "flagged"), [("880.51", False), ("880.49", False), ("880.52", True)])
def test_balance_tolerance_is_one_cent(closing: str, flagged: bool) -> None:
    issues = business_issues({**GOOD_STATEMENT, "closing_balance": closing}, KEYS["bank_statement"])
    assert ("balance_mismatch" in _codes(issues)) is flagged


def test_the_balance_check_follows_the_fields_not_the_type_name() -> None:
    """Any type whose data has opening and closing balances and transactions gets the roll-forward
    check (a workspace's own statement type too); data without them never does."""
    data = {**GOOD_STATEMENT, "closing_balance": "1.00"}
    assert "balance_mismatch" in _codes(business_issues(data))
    assert "balance_mismatch" not in _codes(business_issues({"closing_balance": "1.00", "total_amount": "5.00"}))


@pytest.mark.parametrize(
    ("doc_type", "data", "missing"),
    [
        ("invoice", {}, ["invoice_number", "date", "total_amount", "vendor_name"]),
        ("invoice", {"invoice_number": "1", "date": "2025-01-01"}, ["total_amount", "vendor_name"]),
        ("receipt", {"vendor_name": "Shop"}, ["date", "total_amount"]),
        ("bank_statement", {"iban": "GB29NWBK60161331926819"}, ["transactions"]),
        ("bank_statement", {"transactions": []}, ["transactions"]),
    ],
)
def test_missing_key_fields_are_warnings_per_type(doc_type: str, data: dict[str, Any], missing: list[str]) -> None:
    issues = validate(data, doc_type, SCHEMAS[doc_type])
    assert [(i.code, i.field, i.severity) for i in issues] == [
        ("missing_field", name, Severity.WARNING) for name in missing
    ]
    assert all(i.message == f"{i.field} was not found on the document" for i in issues)


def test_schema_violations_come_first_and_business_checks_are_skipped() -> None:
    # Wrong total AND a malformed date: only the schema problem is reported (the date cannot be
    # compared, and numbers from a document that breaks the schema are not worth checking).
    data = _invoice(total_amount="120.00", date="03/03/2025", extra="x")
    issues = validate(data, "invoice", INVOICE)
    assert {i.code for i in issues} == {"schema_violation"}
    assert [i.field for i in issues] == [None, "date", "date"]  # sorted: document level first
    assert issues[0].message.startswith("document: ")
    assert "extra" in issues[0].message
    assert issues[1].message.startswith("date: ")
    assert all(i.severity is Severity.ERROR for i in issues)


def test_schema_violation_inside_a_list_names_the_item() -> None:
    items = copy.deepcopy(GOOD_INVOICE["line_items"])
    items[1]["amount"] = "40,00"
    (issue,) = validate(_invoice(line_items=items), "invoice", INVOICE)
    assert (issue.code, issue.field) == ("schema_violation", "line_items[1].amount")


def test_several_business_failures_are_all_reported() -> None:
    data = _invoice(total_amount="130.00", iban="DE00370400440532013000", due_date="2025-01-01")
    codes = _codes(validate(data, "invoice", INVOICE))
    assert "totals_mismatch" in codes
    assert "amount_due_mismatch" in codes
    assert "due_before_issue" in codes
    assert "iban_invalid" in codes


def test_confidence_issues_flag_fields_below_the_threshold_sorted_by_name() -> None:
    confidence = {"total_amount": 0.3, "date": 0.49, "vendor_name": 0.5, "iban": 0.99}
    issues = confidence_issues(confidence, 0.5)
    assert [(i.code, i.field, i.severity) for i in issues] == [
        ("low_confidence", "date", Severity.WARNING),
        ("low_confidence", "total_amount", Severity.WARNING),
    ]
    assert issues[1].message == "total_amount was read with confidence 0.30 (below 0.50)"


def test_confidence_threshold_zero_flags_nothing_and_one_flags_all_but_certain() -> None:
    confidence = {"a": 0.0, "b": 0.999, "c": 1.0}
    assert confidence_issues(confidence, 0.0) == []
    assert [i.field for i in confidence_issues(confidence, 1.0)] == ["a", "b"]


# --- tax rates, bases and VAT ids ------------------------------------------------------------


def test_each_tax_row_is_its_rate_times_its_basis() -> None:
    rows = [{"rate": "19", "basis_amount": "60.00", "tax_amount": "11.40"},
            {"rate": "19", "basis_amount": "40.00", "tax_amount": "8.60"}]  # fmt: skip
    issues = validate(_invoice(tax_breakdown=rows, tax_amount="20.00", total_amount="120.00", amount_due="101.00"),
                      "invoice", INVOICE)  # fmt: skip
    (issue,) = issues
    assert (issue.code, issue.field, issue.severity) == (
        "tax_rate_mismatch", "tax_breakdown[1].tax_amount", Severity.ERROR
    )  # fmt: skip
    assert issue.message == "VAT row 2: 19% of 40.00 = 7.60, but the tax reads 8.60"


@pytest.mark.parametrize(("tax", "flagged"), [("7.61", False), ("7.59", False), ("7.62", True), ("7.58", True)])
def test_tax_row_tolerance_is_one_cent(tax: str, flagged: bool) -> None:
    rows = [{"rate": "19", "basis_amount": "40.00", "tax_amount": tax}]
    assert ("tax_rate_mismatch" in _codes(business_issues({"tax_breakdown": rows}))) is flagged


def test_tax_bases_must_add_up_to_the_net_amount() -> None:
    rows = [{"rate": "19", "basis_amount": "60.00", "tax_amount": "11.40"},
            {"rate": "0", "basis_amount": "30.00", "tax_amount": "0.00"}]  # fmt: skip
    issues = business_issues({"net_amount": "100.00", "tax_amount": "11.40", "tax_breakdown": rows})
    (issue,) = issues
    assert (issue.code, issue.field) == ("tax_basis_mismatch", "tax_breakdown")
    assert issue.message == "the tax breakdown's bases add up to 90.00, the net amount reads 100.00"


def test_a_single_stated_rate_without_breakdown_is_checked_as_a_warning() -> None:
    data = _invoice(tax_breakdown=None, vat_rate="19", tax_amount="21.00", total_amount="121.00",
                    prepaid_amount=None, amount_due=None)  # fmt: skip
    (issue,) = validate(data, "invoice", INVOICE)
    assert (issue.code, issue.field, issue.severity) == ("tax_rate_mismatch", "tax_amount", Severity.WARNING)
    assert issue.message == "the VAT: 19% of 100.00 = 19.00, but the tax reads 21.00"
    assert validate(_invoice(tax_breakdown=None, vat_rate="19"), "invoice", INVOICE) == []


@pytest.mark.parametrize("field", ["vendor_vat_id", "buyer_vat_id"])
def test_a_vat_id_with_a_bad_check_digit_is_flagged(field: str) -> None:
    assert validate(_invoice(**{field: "DE136695976"}), "invoice", INVOICE) == []
    (issue,) = validate(_invoice(**{field: "DE136695978"}), "invoice", INVOICE)
    assert (issue.code, issue.field, issue.severity) == ("vat_id_invalid", field, Severity.ERROR)
    assert issue.message == "VAT id DE136695978 fails the DE check digit: probably misread"


def test_a_vat_id_in_the_wrong_format_is_flagged_and_a_foreign_one_is_not() -> None:
    (issue,) = validate(_invoice(vendor_vat_id="DE12345678"), "invoice", INVOICE)
    assert issue.code == "vat_id_invalid" and "does not have the DE format" in issue.message
    assert validate(_invoice(vendor_vat_id="12-3456789"), "invoice", INVOICE) == []
