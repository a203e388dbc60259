"""Printed values to typed ones: amounts (Decimal, never float), dates, IBANs, folded text."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from ledgerlens.pipeline.normalize import (
    compact_id,
    find_dates,
    fold,
    format_amount,
    format_quantity,
    iban_is_valid,
    parse_amount,
    parse_date,
)

# ---------------------------------------------------------------- amounts


@pytest.mark.parametrize(
    ("text", "value", "currency", "marker"),
    [
        ("1.234,56", "1234.56", None, None),
        ("1,234.56", "1234.56", None, None),
        ("1 234,56 €", "1234.56", "EUR", None),
        ("1\u00a0234,56\u00a0€", "1234.56", "EUR", None),  # non-breaking spaces as PDFs print them
        ("$1,234.56", "1234.56", "USD", None),
        ("(12.00)", "-12.00", None, None),
        ("12.00-", "-12.00", None, None),
        ("12,00 CR", "-12.00", None, "CR"),
        ("12.00 Cr", "-12.00", None, "CR"),
        ("12.00 DR", "12.00", None, "DR"),
        ("RM 60.30", "60.30", "MYR", None),
        ("€ -9,32", "-9.32", "EUR", None),
        ("1'234.50", "1234.50", None, None),
        ("-12.00", "-12.00", None, None),
        ("0.90", "0.90", None, None),
        ("EUR 119,00", "119.00", "EUR", None),
        ("119.00 GBP", "119.00", "GBP", None),
        ("£5", "5", "GBP", None),
        ("1.234.567", "1234567", None, None),
        ("1.234.567,89", "1234567.89", None, None),
        ("42", "42", None, None),
    ],
)
def test_parse_amount_reads_printed_forms(text: str, value: str, currency: str | None, marker: str | None) -> None:
    amount = parse_amount(text)
    assert amount is not None, text
    assert type(amount.value) is Decimal
    assert amount.value == Decimal(value)
    # Same digits, same exponent: "0.90" stays two places, not 0.9 (what was printed is kept).
    assert str(amount.value) == value
    assert amount.currency == currency
    assert amount.marker == marker
    assert amount.text == text


def test_a_three_digit_group_is_thousands_unless_the_decimal_mark_is_given() -> None:
    assert parse_amount("1.234").value == Decimal("1234")  # type: ignore[union-attr]
    assert parse_amount("1,234").value == Decimal("1234")  # type: ignore[union-attr]
    assert parse_amount("1.234", decimal_sep=".").value == Decimal("1.234")  # type: ignore[union-attr]
    assert parse_amount("1,234", decimal_sep=",").value == Decimal("1.234")  # type: ignore[union-attr]
    # The hint only settles the ambiguous case: two decimals are decimals whatever it says.
    assert parse_amount("1,23", decimal_sep=".").value == Decimal("1.23")  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "text",
    [
        "abc",
        "12.3.4",
        "7e03",
        "1E5",
        "ABC 12",  # three capitals, but not an ISO 4217 code
        "12 XXX",
        "",
        "   ",
        "(12.00",  # unbalanced parenthesis
        "12.00)",
        "12.00 DR-",
        "12 34",
        "1" * 41,
        "Total 12.00",
    ],
)
def test_parse_amount_refuses_what_it_cannot_read_with_certainty(text: str) -> None:
    assert parse_amount(text) is None


@pytest.mark.parametrize(
    ("value", "places", "expected"),
    [
        ("12.5", 2, "12.50"),
        ("12", 2, "12.00"),
        ("-9.3", 2, "-9.30"),
        ("0", 2, "0.00"),
        ("1E+2", 2, "100.00"),  # never scientific notation
        ("1.23456", 2, "1.23456"),  # more places only when printed
        ("1.2300", 2, "1.23"),  # trailing zeros beyond the minimum are not "printed" precision
        ("1.005", 2, "1.005"),
        ("7", 0, "7"),
        ("7.5", 3, "7.500"),
    ],
)
def test_format_amount(value: str, places: int, expected: str) -> None:
    assert format_amount(Decimal(value), places) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("2", "2"), ("2.000", "2"), ("1.50", "1.5"), ("1E+3", "1000"), ("0.125", "0.125"), ("-3.0", "-3")],
)
def test_format_quantity_drops_trailing_zeros_and_exponents(value: str, expected: str) -> None:
    assert format_quantity(Decimal(value)) == expected


# ---------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("19/10/2018", date(2018, 10, 19)),
        ("03/20/2023", date(2023, 3, 20)),  # 20 cannot be a month: month first
        ("7. Mai 2014", date(2014, 5, 7)),
        ("19 april 2014", date(2014, 4, 19)),
        ("3 de marzo de 2025", date(2025, 3, 3)),
        ("Mar 3, 2025", date(2025, 3, 3)),
        ("August 3 , 2014", date(2014, 8, 3)),
        ("2018-10-19", date(2018, 10, 19)),
        ("03.03.2025", date(2025, 3, 3)),
        ("15-Jan-2018", date(2018, 1, 15)),
        ("15 janv. 2022", date(2022, 1, 15)),
        ("le 3 mars 2025", date(2025, 3, 3)),
        ("1 févr. 2022", date(2022, 2, 1)),  # accents folded before matching
        ("3 décembre 2025", date(2025, 12, 3)),
        ("12. März 2024", date(2024, 3, 12)),
        ("Invoice date: 2nd June 2024", date(2024, 6, 2)),
        ("19/10/18", date(2018, 10, 19)),
    ],
)
def test_parse_date_reads_printed_forms(text: str, expected: date) -> None:
    assert parse_date(text) == expected


def test_find_dates_gives_positions_in_text_order() -> None:
    text = "Datum: 03.03.2025  Fällig am 2. April 2025"
    found = find_dates(text)
    assert [f.value for f in found] == [date(2025, 3, 3), date(2025, 4, 2)]
    assert text[found[0].start : found[0].end] == "03.03.2025"
    assert text[found[1].start : found[1].end] == "2. April 2025"


def test_an_ambiguous_numeric_date_follows_day_first_and_is_flagged() -> None:
    (day_first,) = find_dates("02/07/23")
    (month_first,) = find_dates("02/07/23", day_first=False)
    assert day_first.value == date(2023, 7, 2)
    assert month_first.value == date(2023, 2, 7)
    assert day_first.ambiguous and month_first.ambiguous
    assert parse_date("02/07/23", day_first=False) == date(2023, 2, 7)


def test_an_unambiguous_numeric_date_ignores_day_first() -> None:
    (found,) = find_dates("19/10/2018", day_first=False)
    assert found.value == date(2018, 10, 19)
    assert not found.ambiguous
    (same,) = find_dates("05/05/2025")
    assert not same.ambiguous  # day and month equal: either order gives the same date


@pytest.mark.parametrize("text", ["31/02/2025", "2025-02-30", "30 février 2025", "no date here", "12 mars 1985"])
def test_impossible_or_absent_dates_give_nothing(text: str) -> None:
    assert find_dates(text) == []
    assert parse_date(text) is None


def test_an_amount_is_not_taken_for_a_date() -> None:
    assert find_dates("Total 1.234,56 EUR") == []


# ---------------------------------------------------------------- identifiers


@pytest.mark.parametrize(
    "iban",
    [
        "DE89370400440532013000",
        "DE89 3704 0044 0532 0130 00",
        "de89 3704 0044 0532 0130 00",
        "FR1420041010050500013M02606",
        "FR14 2004 1010 0505 0001 3M02 606",
        "GB29NWBK60161331926819",
        "GB29 NWBK 6016 1331 9268 19",
    ],
)
def test_valid_ibans_pass(iban: str) -> None:
    assert iban_is_valid(iban)


@pytest.mark.parametrize(
    "iban",
    [
        "DE88370400440532013000",  # wrong check digits
        "GB29NWBK60161331926818",  # one digit misread
        "DE8937040044053201300",  # one character short for DE
        "DE893704004405320130000",  # one too many
        "US1234567890",
        "",
        "DE89-3704-0044-0532-0130-00",
    ],
)
def test_invalid_ibans_fail(iban: str) -> None:
    assert not iban_is_valid(iban)


def test_compact_id_strips_spaces_dots_dashes_and_upper_cases() -> None:
    assert compact_id("de89 3704-0044.0532 0130 00") == "DE89370400440532013000"
    assert compact_id("") == ""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Fälligkeitsdatum", "falligkeitsdatum"),
        ("Straße", "strasse"),
        ("ÉCHÉANCE", "echeance"),
        ("Número de factura", "numero de factura"),
        ("Relevé de compte", "releve de compte"),
    ],
)
def test_fold_ignores_case_and_accents(text: str, expected: str) -> None:
    assert fold(text) == expected


# ---------------------------------------------------------------- hints and vendor names

from ledgerlens.pipeline.normalize import country_of, day_first_for, infer_currency, vendor_key  # noqa: E402


@pytest.mark.parametrize(
    ("names", "key"),
    [
        (["ACME Supplies, GmbH", "Acme-Supplies GmbH.", "acme supplies", "The Acme Supplies Co. Ltd"], "acme supplies"),
        (["Le Fournisseur S.A.R.L.", "LE FOURNISSEUR", "Le Fournisseur SARL"], "le fournisseur"),
        (["Müller & Söhne GmbH & Co. KG", "Muller and Sohne"], "muller and sohne"),
        (["Kedai Runcit Maju Sdn. Bhd.", "KEDAI RUNCIT MAJU SDN BHD"], "kedai runcit maju"),
        (["Iberia Suministros S.L.", "IBERIA SUMINISTROS, S.L.U."], "iberia suministros"),
    ],
)
def test_vendor_key_ignores_case_punctuation_and_legal_forms(names: list[str], key: str) -> None:
    assert {vendor_key(n) for n in names} == {key}


def test_vendor_key_keeps_a_name_that_is_only_a_legal_form_and_different_names_apart() -> None:
    assert vendor_key("AG") == "ag"
    assert vendor_key("Acme Supplies GmbH") != vendor_key("Acme Services GmbH")


@pytest.mark.parametrize(
    ("hints", "day_first"),
    [
        ({"locale": "en_US"}, False),
        ({"locale": "en-GB"}, True),
        ({"country": "US"}, False),
        ({"country": "DE"}, True),
        ({"currency": "USD"}, False),
        ({"currency": "EUR"}, True),
        ({"locale": "de_DE", "currency": "USD"}, True),  # the locale is the stronger hint
        ({}, None),
    ],
)
def test_numeric_date_order_follows_locale_country_or_currency(hints: dict[str, str], day_first: bool | None) -> None:
    assert day_first_for(**hints) is day_first


def test_twelve_three_is_read_per_hint() -> None:
    assert parse_date("12/03/2025", day_first=day_first_for(country="US") is not False) == date(2025, 12, 3)
    assert parse_date("12/03/2025", day_first=day_first_for(country="FR") is not False) == date(2025, 3, 12)


@pytest.mark.parametrize(
    ("data", "country"),
    [
        ({"vendor_vat_id": "DE136695976"}, "DE"),
        ({"vendor_vat_id": "EL094259216"}, "GR"),
        ({"iban": "FR1420041010050500013M02606"}, "FR"),
        ({"vendor_address": "1 Main St, Springfield, US"}, "US"),
        ({"vendor_name": "Acme"}, None),
    ],
)
def test_country_of_a_document(data: dict[str, str], country: str | None) -> None:
    assert country_of(data) == country


def test_currency_is_inferred_from_symbols_then_the_iban_country() -> None:
    by_symbol = infer_currency(["1.234,56 €", "19,00 €"], "GB29NWBK60161331926819")
    assert by_symbol is not None and by_symbol.code == "EUR" and "symbol" in by_symbol.how
    by_iban = infer_currency(["1.234,56"], "GB29 NWBK 6016 1331 9268 19")
    assert by_iban is not None and by_iban.code == "GBP" and "GB" in by_iban.how
    assert infer_currency(["12 €", "$3"], None) is None  # two currencies: no guess
    assert infer_currency(["12.00"], None) is None


@pytest.mark.parametrize(("text", "value"), [("-12.00", "-12.00"), ("(12.00)", "-12.00"), ("12.00-", "-12.00"),
                                             ("12,00 CR", "-12.00"), ("−12,00 €", "-12.00")])  # fmt: skip
def test_every_negative_form_is_negative(text: str, value: str) -> None:
    amount = parse_amount(text)
    assert amount is not None and amount.value == Decimal(value)
