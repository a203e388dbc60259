"""VAT ids and tax numbers (python-stdnum behind pipeline/check/taxid.py): published valid ids pass,
a one-digit change fails its country's check digit, a wrong shape fails its country's format, and
the reason names the country and the problem."""

from __future__ import annotations

import pytest
from ledgerlens.pipeline.check.taxid import check_vat_id, tax_number_problem

VALID = [
    "DE136695976", "ATU13585627", "BE0403019261", "FR40303265045", "FR 23 334 175 221", "FRK7399859412",
    "IT00743110157", "ESB58378431", "ES54362315K", "ESX1234567L", "NL004495445B01", "NL002455799B11",
    "PL8567346215", "PT501964843", "DK13585628", "FI20774740", "SE123456789701", "LU15027442", "HR33392005961",
    # Checked by stdnum, format only before it: the UK (and Northern Ireland), Greece, Switzerland, Norway.
    "GB980780684", "XI980780684", "EL094259216", "CHE-116.281.710 MWST", "NO 974 760 673 MVA",
]  # fmt: skip
INVALID = [
    "DE136695978", "ATU13585626", "BE0431150351", "FR41303265045", "IT00743110158", "ESB58378432",
    "ES54362315J", "NL123456789B90", "PL8567346216", "PT501964844", "DK13585627", "FI20774741",
    "SE123456789801", "LU15027443", "HR33392005962", "GB980780685", "EL094259217", "CHE116281711MWST",
    "NO974760674MVA",
]  # fmt: skip


@pytest.mark.parametrize("vat", VALID)
def test_published_valid_ids_pass_their_check_digit(vat: str) -> None:
    check = check_vat_id(vat)
    assert check.valid and check.checked, check


@pytest.mark.parametrize("vat", INVALID)
def test_a_changed_digit_fails_the_check_digit_of_its_country(vat: str) -> None:
    check = check_vat_id(vat)
    assert not check.valid and check.checked
    assert check.reason == f"fails the {check.country} check digit"
    assert check.country == vat[:2]


@pytest.mark.parametrize(
    ("vat", "reason"),
    [
        ("DE12345678", "does not have the DE format (wrong length)"),
        ("DE1234567890", "does not have the DE format (wrong length)"),
        ("FR4030326504", "does not have the FR format (wrong length)"),
        ("ATX13585627", "does not have the AT format"),
        ("NL004495445A01", "does not have the NL format"),
        ("GB12345", "does not have the GB format"),
    ],
)
def test_a_wrong_shape_fails_the_format_of_its_country(vat: str, reason: str) -> None:
    check = check_vat_id(vat)
    assert not check.valid and check.reason == reason


def test_spacing_and_the_greek_prefix_do_not_matter() -> None:
    assert check_vat_id("GB980780684") == check_vat_id("GB 980 7806 84")
    assert check_vat_id("EL094259216").country == "EL" and check_vat_id("GR094259216").country == "EL"
    assert check_vat_id("GR094259216").valid


def test_stdnum_is_stricter_than_a_format_check_for_the_uk() -> None:
    """Before stdnum, GB ids were only format-checked: this made-up one passed; its check digits fail."""
    check = check_vat_id("GB123456789")
    assert not check.valid and check.reason == "fails the GB check digit"


def test_a_non_european_id_is_not_judged() -> None:
    check = check_vat_id("123-45-6789")
    assert check.valid and check.country is None and not check.checked


@pytest.mark.parametrize("number", ["201/113/40209", "22/815/0815/4", "2200000100001", "181/815/08155"])
def test_german_tax_numbers_in_a_state_format_pass(number: str) -> None:
    assert tax_number_problem(number, "DE") is None


def test_a_german_tax_number_of_the_wrong_shape_is_named_as_such() -> None:
    assert tax_number_problem("201/113/402", "DE") == "does not have the format of a German tax number (Steuernummer)"


def test_tax_numbers_of_other_countries_are_not_judged() -> None:
    assert tax_number_problem("12-3456789", "US") is None
    assert tax_number_problem("201/113/4020", None) is None
