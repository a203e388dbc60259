"""Engine output -> the schema's canonical form, before validation.

Engines (models above all) print values the way documents do: "1.234,56 €", 12.5 as a JSON
number, "03/03/2025", "de 89 3704...". Each field is brought to its schema kind: amounts to
decimal strings (via Decimal, never float), dates to ISO, ids compact and upper-case. A value
that cannot be read is dropped with an issue rather than passed on half-right; unknown keys too.
"""

from __future__ import annotations

import math
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from .normalize import (
    CURRENCY_SYMBOLS,
    clean_spaces,
    compact_id,
    format_amount,
    format_quantity,
    iso_currencies,
    parse_amount,
    parse_date,
)
from .schemas import DocumentSchema
from .types import Issue, Severity

STAGE = "parse"
_PLAIN = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")


class Unreadable(ValueError):
    pass


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise Unreadable("a yes/no value is not a number")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise Unreadable("not a finite number")
        # The shortest text that round-trips, cut to the schema's 4 decimals: a model's JSON number
        # 0.30000000000000004 is 0.3, not a schema violation that hides every other check.
        return Decimal(repr(value)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP).normalize()
    text = str(value).strip()
    if _PLAIN.match(text):
        return Decimal(text)
    amount = parse_amount(text)
    if amount is None:
        raise Unreadable(f"{text!r} is not a number")
    return amount.value


def _amount(value: Any) -> str:
    d = _decimal(value)
    if not d.is_finite() or abs(d) >= Decimal(10) ** 13:
        raise Unreadable(f"{value!r} is out of range")
    return format_amount(d)


def _quantity(value: Any) -> str:
    d = _decimal(value)
    if not d.is_finite() or abs(d) >= Decimal(10) ** 10:
        raise Unreadable(f"{value!r} is out of range")
    return format_quantity(d)


def _rate(value: Any) -> str:
    text = str(value).strip().rstrip("%").strip()
    d = _decimal(text)
    if not Decimal(0) <= d <= Decimal(100):
        raise Unreadable(f"{value!r} is not a percentage")
    return format_quantity(d) if d == d.to_integral() else f"{d.normalize():f}"


def _date(value: Any) -> str:
    text = str(value).strip()
    parsed = parse_date(text)
    if parsed is None:
        raise Unreadable(f"{text!r} is not a date")
    return parsed.isoformat()


def _currency(value: Any) -> str:
    text = str(value).strip()
    code = CURRENCY_SYMBOLS.get(text.casefold(), text.upper())
    if code not in iso_currencies():
        raise Unreadable(f"{text!r} is not an ISO 4217 currency code")
    return code


def _text(value: Any) -> str:
    if isinstance(value, (dict, list)):
        raise Unreadable("expected text")
    return clean_spaces(str(value))


def _multiline_text(value: Any) -> str:
    if isinstance(value, (dict, list)):
        raise Unreadable("expected text")
    lines = [clean_spaces(line) for line in str(value).splitlines()]
    return "\n".join(line for line in lines if line)


CONVERTERS = {
    "amount": _amount,
    "quantity": _quantity,
    "rate": _rate,
    "date": _date,
    "currency": _currency,
    "iban": lambda v: compact_id(_text(v)),
    "tax_id": lambda v: re.sub(r"\s", "", _text(v)).upper(),
    "bic": lambda v: compact_id(_text(v)),
    "time": _text,
    "text": _multiline_text,
    "short_text": _text,
}


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, (str, list, dict)) and not value)


def parse_output(data: dict[str, Any], schema: DocumentSchema) -> tuple[dict[str, Any], list[Issue]]:
    """Canonical data and the issues met on the way (dropped values, unknown keys)."""
    issues: list[Issue] = []
    out = _parse_object(data, schema.field_kinds, "", "", issues)
    return out, issues


def _parse_object(
    data: dict[str, Any], kinds: dict[str, str], kind_prefix: str, path_prefix: str, issues: list[Issue]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        kind = kinds.get(kind_prefix + key)
        where = path_prefix + key  # e.g. line_items[2].amount, as the review sheet shows it

        def problem(code: str, message: str, severity: Severity = Severity.ERROR, where: str = where) -> None:
            issues.append(Issue(STAGE, code, severity, message, field=where))

        if kind is None:
            problem("unknown_field", f"{where} is not in the schema; dropped", Severity.WARNING)
        elif _empty(value):
            continue
        elif kind == "list":
            if not isinstance(value, list):
                problem("bad_value", f"{where} should be a list; dropped")
                continue
            items = []
            for i, item in enumerate(value):
                if not isinstance(item, dict):
                    problem("bad_value", f"{where}[{i}] should be an object; dropped", where=f"{where}[{i}]")
                elif parsed := _parse_object(item, kinds, f"{kind_prefix}{key}.", f"{where}[{i}].", issues):
                    items.append(parsed)
            if items:
                out[key] = items
        else:
            try:
                converted = CONVERTERS.get(kind, _text)(value)
            except (Unreadable, InvalidOperation, ValueError) as e:
                problem("unreadable_value", f"{where}: {e}; dropped")
                continue
            if converted != "":
                out[key] = converted
            if isinstance(value, float) and kind in ("amount", "quantity", "rate") and _decimals(value) > 4:
                problem("rounded_number", f"{where}: the number {value!r} was rounded to {converted}", Severity.WARNING)
    return out


def _decimals(value: float) -> int:
    text = repr(value)
    return len(text.split(".")[1].split("e")[0]) if "." in text and "e" not in text else (99 if "e" in text else 0)
