"""Engine output to the schema's canonical form: amounts via Decimal, ISO dates, codes, compact ids;
what cannot be read is dropped with an issue that names the field."""

from __future__ import annotations

from typing import Any

import pytest
from ledgerlens.pipeline.check.parse import parse_output
from ledgerlens.pipeline.check.validate import validate
from ledgerlens.pipeline.doctypes.schemas import DocumentSchema, load_schemas
from ledgerlens.pipeline.types import Issue, Severity

SCHEMAS = load_schemas()
INVOICE = SCHEMAS["invoice"]
RECEIPT = SCHEMAS["receipt"]
STATEMENT = SCHEMAS["bank_statement"]


def _one(field: str, value: Any, schema: DocumentSchema = INVOICE) -> tuple[Any, list[Issue]]:
    data, issues = parse_output({field: value}, schema)
    return data.get(field), issues


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (12.5, "12.50"),
        (12, "12.00"),
        (0.1, "0.10"),  # Decimal(0.1) would be 0.1000000000000000055511151231257827...
        (0.3, "0.30"),
        (1.1, "1.10"),
        (0.07, "0.07"),
        (19.99, "19.99"),
        (1234.56, "1234.56"),
        (2.675, "2.675"),  # as printed, not the binary 2.67499999...
        (-119.5, "-119.50"),
        (9999999999999.99, "9999999999999.99"),
    ],
)
def test_json_numbers_become_exact_decimal_strings(value: float, expected: str) -> None:
    parsed, issues = _one("total_amount", value)
    assert parsed == expected
    assert issues == []


def test_a_float_artefact_never_passes_unnoticed() -> None:
    # 0.1 + 0.2 is 0.30000000000000004 in binary floating point: whatever parse makes of it,
    # the document must carry an issue on the field rather than a silently wrong amount.
    data, issues = parse_output({"total_amount": 0.1 + 0.2}, INVOICE)
    flagged = [i for i in issues + validate(data, "invoice", INVOICE) if i.field == "total_amount"]
    assert flagged


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1.234,56 €", "1234.56"),
        ("$1,234.56", "1234.56"),
        ("(12.00)", "-12.00"),
        ("12,00 CR", "-12.00"),
        ("RM 60.30", "60.30"),
        ("119", "119.00"),
        ("  42.10 ", "42.10"),
        ("1.5", "1.50"),
    ],
)
def test_printed_amounts_are_read(value: str, expected: str) -> None:
    parsed, issues = _one("total_amount", value)
    assert parsed == expected
    # A symbol beside the only amount names the currency, flagged because the document did not state it.
    assert [i.code for i in issues] == (["currency_inferred"] if any(s in value for s in ("$", "€", "RM ")) else [])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("03.03.2025", "2025-03-03"),
        ("19/10/2018", "2018-10-19"),
        ("7. Mai 2014", "2014-05-07"),
        ("Mar 3, 2025", "2025-03-03"),
        ("2025-03-03", "2025-03-03"),
    ],
)
def test_dates_in_other_formats_become_iso(value: str, expected: str) -> None:
    parsed, issues = _one("date", value)
    assert parsed == expected
    assert issues == []


@pytest.mark.parametrize(("value", "code"), [("€", "EUR"), ("$", "USD"), ("£", "GBP"), ("RM", "MYR"), ("eur", "EUR")])
def test_currency_symbols_and_lower_case_become_iso_codes(value: str, code: str) -> None:
    assert _one("currency", value) == (code, [])


def test_ids_are_compacted_and_upper_cased() -> None:
    data, issues = parse_output(
        {
            "iban": "de89 3704 0044 0532 0130 00",
            "vendor_vat_id": "de 123 456 789",
            "bic": "cobade ff xxx",
        },
        INVOICE,
    )
    assert data == {"iban": "DE89370400440532013000", "vendor_vat_id": "DE123456789", "bic": "COBADEFFXXX"}
    assert issues == []


@pytest.mark.parametrize(
    ("value", "expected"), [(19, "19"), (19.0, "19"), ("19 %", "19"), ("7,5%", "7.5"), (7.25, "7.25")]
)
def test_rates_become_plain_percentages(value: Any, expected: str) -> None:
    assert _one("vat_rate", value) == (expected, [])


@pytest.mark.parametrize(("value", "expected"), [(2, "2"), (2.0, "2"), ("1,5", "1.5"), ("10.0", "10")])
def test_quantities_lose_trailing_zeros(value: Any, expected: str) -> None:
    data, issues = parse_output({"line_items": [{"description": "Paper", "quantity": value}]}, INVOICE)
    assert data["line_items"][0]["quantity"] == expected
    assert issues == []


def test_text_is_cleaned_and_addresses_keep_their_lines() -> None:
    data, _ = parse_output(
        {"invoice_number": " INV\u00a0 42 \n", "vendor_address": "  Hauptstraße 1\n\n  10115   Berlin "}, INVOICE
    )
    assert data["invoice_number"] == "INV 42"
    assert data["vendor_address"] == "Hauptstraße 1\n10115 Berlin"


def test_an_unknown_key_is_dropped_with_a_warning() -> None:
    data, issues = parse_output({"total_amount": "10.00", "totl": "10.00"}, INVOICE)
    assert data == {"total_amount": "10.00"}
    assert [(i.code, i.field, i.severity, i.stage) for i in issues] == [
        ("unknown_field", "totl", Severity.WARNING, "parse")
    ]


def test_a_field_of_another_document_type_is_unknown_here() -> None:
    data, issues = parse_output({"time": "14:05"}, INVOICE)
    assert data == {}
    assert [i.code for i in issues] == ["unknown_field"]
    assert parse_output({"time": "14:05"}, RECEIPT) == ({"time": "14:05"}, [])


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("total_amount", "abc", "is not a number"),
        ("total_amount", "1e5", "is not a number"),
        ("total_amount", float("nan"), "not a finite number"),
        ("total_amount", float("inf"), "not a finite number"),
        ("total_amount", float("-inf"), "not a finite number"),
        ("total_amount", "NaN", "is not a number"),
        ("total_amount", True, "yes/no value is not a number"),
        ("total_amount", False, "yes/no value is not a number"),
        ("total_amount", 10**13, "out of range"),
        ("total_amount", 1e13, "out of range"),
        ("total_amount", "-10000000000000", "out of range"),
        ("total_amount", {"value": 12}, "is not a number"),
        ("date", "2025-02-30", "is not a date"),
        ("date", "soon", "is not a date"),
        ("currency", "XXX", "not an ISO 4217 currency code"),
        ("currency", "Euro", "not an ISO 4217 currency code"),
        ("vat_rate", 101, "not a percentage"),
        ("vat_rate", -1, "not a percentage"),
        ("vendor_name", {"name": "Acme"}, "expected text"),
        ("vendor_address", ["1 High St", "London"], "expected text"),
    ],
)
def test_an_unreadable_value_is_dropped_with_an_issue_naming_the_field(field: str, value: Any, reason: str) -> None:
    data, issues = parse_output({field: value, "invoice_number": "INV-1"}, INVOICE)
    assert data == {"invoice_number": "INV-1"}  # the rest of the document is kept
    (issue,) = issues
    assert issue.code == "unreadable_value"
    assert issue.severity is Severity.ERROR
    assert issue.field == field
    assert reason in issue.message
    assert issue.message.startswith(f"{field}: ")


def test_an_unreadable_value_in_a_list_item_names_its_path() -> None:
    data, issues = parse_output(
        {
            "line_items": [
                {"description": "Paper", "amount": "10,00"},
                {"description": "Toner", "amount": "ten euros", "quantity": True},
            ]
        },
        INVOICE,
    )
    assert data == {"line_items": [{"description": "Paper", "amount": "10.00"}, {"description": "Toner"}]}
    assert [(i.code, i.field) for i in issues] == [
        ("unreadable_value", "line_items[1].amount"),
        ("unreadable_value", "line_items[1].quantity"),
    ]


def test_an_item_that_is_not_an_object_is_dropped_with_an_issue() -> None:
    data, issues = parse_output(
        {"line_items": ["Paper 10.00", {"description": "Toner", "amount": 5}]},
        INVOICE,
    )
    assert data == {"line_items": [{"description": "Toner", "amount": "5.00"}]}
    assert [(i.code, i.field) for i in issues] == [("bad_value", "line_items[0]")]


def test_a_list_field_that_is_not_a_list_is_dropped_with_an_issue() -> None:
    data, issues = parse_output({"line_items": {"description": "Paper"}}, INVOICE)
    assert data == {}
    assert [(i.code, i.field) for i in issues] == [("bad_value", "line_items")]


def test_unknown_keys_inside_list_items_are_named_by_path() -> None:
    data, issues = parse_output({"transactions": [{"date": "03.03.2025", "amount": "-1,00", "memo": "x"}]}, STATEMENT)
    assert data == {"transactions": [{"date": "2025-03-03", "amount": "-1.00"}]}
    assert [(i.code, i.field) for i in issues] == [("unknown_field", "transactions[0].memo")]


@pytest.mark.parametrize("empty", [None, "", [], {}, "   "])
def test_empty_text_values_are_dropped_quietly(empty: Any) -> None:
    data, issues = parse_output({"vendor_name": empty, "invoice_number": "A-1"}, INVOICE)
    assert data == {"invoice_number": "A-1"}
    assert issues == []


@pytest.mark.parametrize("empty", [None, "", []])
def test_empty_amounts_and_lists_are_dropped_quietly(empty: Any) -> None:
    data, issues = parse_output({"total_amount": empty, "line_items": empty}, INVOICE)
    assert data == {}
    assert issues == []


def test_list_items_that_end_up_empty_are_left_out() -> None:
    data, issues = parse_output({"line_items": [{"description": ""}, {"amount": None}]}, INVOICE)
    assert data == {}
    assert issues == []


def test_a_full_model_answer_parses_to_schema_valid_data() -> None:
    raw = {
        "document_subtype": "invoice",
        "invoice_number": "RE-2025-17",
        "date": "3. März 2025",
        "due_date": "02.04.2025",
        "vendor_name": "Acme Supplies GmbH",
        "vendor_vat_id": "DE 136 695 976",
        "currency": "€",
        "iban": "DE89 3704 0044 0532 0130 00",
        "vat_rate": "19 %",
        "net_amount": 100,
        "tax_amount": 19.0,
        "total_amount": "119,00 €",
        "amount_due": "119.00",
        "tax_breakdown": [{"category": "S", "rate": 19, "basis_amount": "100,00", "tax_amount": "19,00"}],
        "line_items": [
            {"description": "Printer paper A4", "quantity": 10.0, "unit": "box", "unit_price": 10, "amount": "100,00"}
        ],
    }
    data, issues = parse_output(raw, INVOICE)
    assert issues == []
    assert INVOICE.errors(data) == []
    assert data["date"] == "2025-03-03"
    assert data["tax_amount"] == "19.00"
    assert data["line_items"][0] == {
        "description": "Printer paper A4",
        "quantity": "10",
        "unit": "box",
        "unit_price": "10.00",
        "amount": "100.00",
    }
    assert validate(data, "invoice", INVOICE) == []


def test_a_statement_and_a_receipt_parse_to_schema_valid_data() -> None:
    statement, s_issues = parse_output(
        {
            "iban": "de89370400440532013000",
            "currency": "EUR",
            "opening_balance": "1.000,00",
            "closing_balance": 880.5,
            "transactions": [{"date": "03/03/2025", "description": "Card", "amount": "-119,50"}],
        },
        STATEMENT,
    )
    assert s_issues == []
    assert STATEMENT.errors(statement) == []
    assert statement["opening_balance"] == "1000.00"
    assert statement["transactions"] == [{"date": "2025-03-03", "description": "Card", "amount": "-119.50"}]

    receipt, r_issues = parse_output(
        {"vendor_name": "KEDAI", "date": "19/10/2018", "time": "14:05", "currency": "RM", "total_amount": "9.30"},
        RECEIPT,
    )
    assert r_issues == []
    assert RECEIPT.errors(receipt) == []
    assert receipt["currency"] == "MYR"


def test_dropping_a_required_value_leaves_the_item_for_validation_to_flag() -> None:
    statement, issues = parse_output(
        {"transactions": [{"date": "03/03/2025", "amount": "119,50 DR-"}]},
        STATEMENT,
    )
    assert [(i.code, i.field) for i in issues] == [("unreadable_value", "transactions[0].amount")]
    assert statement == {"transactions": [{"date": "2025-03-03"}]}
    assert STATEMENT.errors(statement) == [("$.transactions[0]", "'amount' is a required property")]


# --- hints: date order and currency ------------------------------------------------------------


def test_an_ambiguous_date_without_a_hint_is_read_day_first_and_flagged() -> None:
    data, issues = parse_output({"date": "12/03/2025", "total_amount": "10.00"}, INVOICE)
    assert data["date"] == "2025-03-12"
    (issue,) = issues
    assert (issue.code, issue.field, issue.severity) == ("ambiguous_date", "date", Severity.WARNING)
    assert "'12/03/2025' could be day/month or month/day" in issue.message


@pytest.mark.parametrize(
    ("hint", "expected"),
    [
        ({"currency": "USD"}, "2025-12-03"),
        ({"currency": "$"}, "2025-12-03"),
        ({"vendor_address": "1 Main St, Springfield, IL 62701, US"}, "2025-12-03"),
        ({"currency": "EUR"}, "2025-03-12"),
        ({"vendor_vat_id": "DE136695976", "currency": "USD"}, "2025-03-12"),  # the country beats the currency
    ],
)
def test_the_document_country_or_currency_settles_the_order(hint: dict[str, str], expected: str) -> None:
    data, issues = parse_output({"date": "12/03/2025", "due_date": "12/04/2025", **hint}, INVOICE)
    assert data["date"] == expected
    assert "ambiguous_date" not in [i.code for i in issues]


def test_a_missing_currency_is_inferred_from_the_iban_and_flagged() -> None:
    data, issues = parse_output({"iban": "GB29 NWBK 6016 1331 9268 19", "total_amount": "12.00"}, INVOICE)
    assert data["currency"] == "GBP"
    (issue,) = issues
    assert (issue.code, issue.field, issue.severity) == ("currency_inferred", "currency", Severity.WARNING)
    assert issue.message == "the currency is not stated; GBP was inferred from the IBAN's country (GB)"


def test_an_engines_own_currency_inference_is_flagged_too() -> None:
    from ledgerlens.pipeline.types import FieldEvidence

    evidence = {"currency": FieldEvidence(0.4, source="currency:inferred from IBAN country")}
    data, issues = parse_output({"currency": "EUR", "total_amount": "1.00"}, INVOICE, evidence)
    assert data["currency"] == "EUR"
    assert [(i.code, i.message) for i in issues] == [
        ("currency_inferred", "the currency EUR is not printed; it was inferred from IBAN country")
    ]
    assert parse_output({"currency": "EUR", "total_amount": "1.00"}, INVOICE)[1] == []
