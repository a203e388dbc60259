"""VAT ids: every implemented check digit accepts published valid ids and rejects a one-digit change."""

from __future__ import annotations

import pytest
from ledgerlens.pipeline.check.taxid import check_vat_id

VALID = [
    "DE136695976", "ATU13585627", "BE0403019261", "FR40303265045", "FR 23 334 175 221", "FRK7399859412",
    "IT00743110157", "ESB58378431", "ES54362315K", "ESX1234567L", "NL004495445B01", "NL002455799B11",
    "PL8567346215", "PT501964843", "DK13585628", "FI20774740", "SE123456789701", "LU15027442", "HR33392005961",
]  # fmt: skip
INVALID = [
    "DE136695978", "ATU13585626", "BE0431150351", "FR41303265045", "IT00743110158", "ESB58378432",
    "ES54362315J", "NL123456789B90", "PL8567346216", "PT501964844", "DK13585627", "FI20774741",
    "SE123456789801", "LU15027443", "HR33392005962",
]  # fmt: skip


@pytest.mark.parametrize("vat", VALID)
def test_published_valid_ids_pass_their_check_digit(vat: str) -> None:
    check = check_vat_id(vat)
    assert check.valid and check.checked, check


@pytest.mark.parametrize("vat", INVALID)
def test_a_changed_digit_fails_the_check(vat: str) -> None:
    check = check_vat_id(vat)
    assert not check.valid and check.checked
    assert check.reason == "the check digit does not match"


@pytest.mark.parametrize("vat", ["DE12345678", "DE1234567890", "ATX13585627", "NL004495445A01", "FR4030326504"])
def test_a_wrong_format_fails_without_a_checksum(vat: str) -> None:
    check = check_vat_id(vat)
    assert not check.valid and not check.checked and "format" in check.reason


def test_countries_without_an_implemented_checksum_are_format_checked_only() -> None:
    assert check_vat_id("GB123456789") == check_vat_id("GB 123 456 789")
    assert check_vat_id("GB123456789").valid and not check_vat_id("GB123456789").checked
    assert check_vat_id("EL094259216").country == "EL" and check_vat_id("GR094259216").country == "EL"
    assert not check_vat_id("GB12345").valid


def test_a_non_european_id_is_not_judged() -> None:
    check = check_vat_id("123-45-6789")
    assert check.valid and check.country is None and not check.checked
