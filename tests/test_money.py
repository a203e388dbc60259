"""One `to_decimal` for the whole code base: what it reads, what it refuses, and that no second
decimal-parsing helper creeps back in (validation, exports and scoring must agree on a number)."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
from ledgerlens.pipeline.money import to_decimal

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1234.50", Decimal("1234.50")),
        (" -0.01 ", Decimal("-0.01")),
        ("19", Decimal("19")),
        (Decimal("7.125"), Decimal("7.125")),
        (42, Decimal(42)),
        (0.1, Decimal("0.1")),  # a model's JSON number, by its shortest text: never 0.1000000000000000055...
        (12.5, Decimal("12.5")),
    ],
)
def test_stored_and_json_numbers_become_exact_decimals(raw: object, expected: Decimal) -> None:
    got = to_decimal(raw)
    assert got == expected and str(got) == str(expected)


@pytest.mark.parametrize(
    "raw", [None, "", "  ", True, False, "NaN", "Infinity", Decimal("NaN"), float("inf"), float("nan"), "1e5", "12,50",
            "1.234,56 €", "12.50 EUR", ["12.50"], {"amount": "12.50"}, ".5", "1."],
)  # fmt: skip
def test_anything_else_is_not_a_number(raw: object) -> None:
    assert to_decimal(raw) is None


@pytest.mark.parametrize(
    ("printed", "expected"),
    [("1.234,56 €", "1234.56"), ("$1,234.56", "1234.56"), ("(12.00)", "-12.00"), ("RM 60.30", "60.30"), ("7", "7")],
)
def test_printed_amounts_are_read_only_when_asked(printed: str, expected: str) -> None:
    assert to_decimal(printed, printed=True) == Decimal(expected)
    if not re.fullmatch(r"-?\d+(\.\d+)?", printed):
        assert to_decimal(printed) is None


_HELPER = re.compile(r"^\s*def\s+(\w*(?:_dec|decimal))\s*\(", re.MULTILINE)
_AD_HOC = re.compile(r"Decimal\((?:str|repr|float)\(")


def _sources() -> list[Path]:
    return sorted(p for folder in ("pipeline", "flows", "ledgerlens") for p in (ROOT / folder).rglob("*.py"))


def test_there_is_one_decimal_parsing_helper() -> None:
    """A second `to_decimal`/`_dec` would drift from this one (NaN, exponents, floats, printed text)."""
    helpers = [f"{p.relative_to(ROOT)}: {m[1]}" for p in _sources() for m in _HELPER.finditer(p.read_text("utf-8"))]
    assert helpers == ["pipeline/money.py: to_decimal"]


def test_no_ad_hoc_decimal_of_str_or_float_outside_money() -> None:
    found = [
        f"{p.relative_to(ROOT)}:{n}"
        for p in _sources()
        if p.name != "money.py"
        for n, line in enumerate(p.read_text("utf-8").splitlines(), 1)
        if _AD_HOC.search(line)
    ]
    assert found == [], "use ledgerlens.pipeline.money.to_decimal"
