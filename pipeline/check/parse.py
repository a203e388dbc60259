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

from ledgerlens.pipeline.doctypes.schemas import DocumentSchema
from ledgerlens.pipeline.money import to_decimal
from ledgerlens.pipeline.normalize import (
    CURRENCY_SYMBOLS,
    clean_spaces,
    compact_id,
    country_of,
    day_first_for,
    find_dates,
    format_amount,
    format_quantity,
    infer_currency,
    iso_currencies,
    parse_date,
)
from ledgerlens.pipeline.types import Issue, Severity

STAGE = "parse"


class Unreadable(ValueError):
    pass


def _number(value: Any) -> Decimal:
    """A number a model or the finder wrote, as printed or as JSON; why not, when it is none."""
    if isinstance(value, bool):
        raise Unreadable("a yes/no value is not a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise Unreadable("not a finite number")
    number = to_decimal(value, printed=True)
    if number is None:
        raise Unreadable(f"{str(value).strip()!r} is not a number")
    if isinstance(value, float):
        # Cut to the schema's 4 decimals: a model's JSON number 0.30000000000000004 is 0.3, not a
        # schema violation that hides every other check.
        return number.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP).normalize()
    return number


def _amount(value: Any) -> str:
    d = _number(value)
    if not d.is_finite() or abs(d) >= Decimal(10) ** 13:
        raise Unreadable(f"{value!r} is out of range")
    return format_amount(d)


def _quantity(value: Any) -> str:
    d = _number(value)
    if not d.is_finite() or abs(d) >= Decimal(10) ** 10:
        raise Unreadable(f"{value!r} is out of range")
    return format_quantity(d)


def _rate(value: Any) -> str:
    text = str(value).strip().rstrip("%").strip()
    d = _number(text)
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


def parse_output(
    data: dict[str, Any], schema: DocumentSchema, evidence: dict[str, Any] | None = None
) -> tuple[dict[str, Any], list[Issue]]:
    """Canonical data and the issues met on the way (dropped values, unknown keys, guesses).

    Numeric dates like 12/03/2025 are read in the order the document's country or currency
    implies (US, USD: month first; elsewhere day first); without a hint an ambiguous one is read
    day first and flagged. A currency the document does not state is inferred from the symbols
    beside its amounts or from its IBAN's country, and flagged as inferred. `evidence` (field ->
    FieldEvidence from the engine) lets an engine's own inference be flagged the same way.
    """
    issues: list[Issue] = []
    raw_currency = data.get("currency")
    hint_currency = CURRENCY_SYMBOLS.get(str(raw_currency).strip().casefold(), str(raw_currency or "").upper())
    day_first = day_first_for(country=country_of(data), currency=hint_currency or None)
    out = _parse_object(data, schema.field_kinds, "", "", issues, day_first)
    issues += _currency_guess(data, out, schema, evidence or {})
    return out, issues


def _currency_guess(
    raw: dict[str, Any], out: dict[str, Any], schema: DocumentSchema, evidence: dict[str, Any]
) -> list[Issue]:
    if "currency" not in schema.field_kinds:
        return []
    source = getattr(evidence.get("currency"), "source", "")
    if "currency" in out:
        if "inferred" in source:
            how = source.split("inferred", 1)[1].strip()
            message = f"the currency {out['currency']} is not printed; it was inferred {how}"
            return [Issue(STAGE, "currency_inferred", Severity.WARNING, message, field="currency")]
        return []
    if not any(schema.field_kinds.get(k) == "amount" for k in out):
        return []  # no money on the document: no currency to speak of
    amounts = [str(v) for k, v in raw.items() if schema.field_kinds.get(k) == "amount" and isinstance(v, str)]
    guess = infer_currency(amounts, out.get("iban"))
    if guess is None:
        return []
    out["currency"] = guess.code
    message = f"the currency is not stated; {guess.code} was inferred from {guess.how}"
    return [Issue(STAGE, "currency_inferred", Severity.WARNING, message, field="currency")]


def _parse_object(
    data: dict[str, Any],
    kinds: dict[str, str],
    kind_prefix: str,
    path_prefix: str,
    issues: list[Issue],
    day_first: bool | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    read_day_first = day_first is not False  # no hint: day first, as most of the world writes
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
                elif parsed := _parse_object(item, kinds, f"{kind_prefix}{key}.", f"{where}[{i}].", issues, day_first):
                    items.append(parsed)
            if items:
                out[key] = items
        elif kind == "date" and isinstance(value, str) and (found := find_dates(value, day_first=read_day_first)):
            out[key] = found[0].value.isoformat()
            if found[0].ambiguous and day_first is None:
                problem(
                    "ambiguous_date",
                    f"{where}: {value.strip()!r} could be day/month or month/day and nothing on the document "
                    f"says which; read day first as {out[key]}",
                    Severity.WARNING,
                )
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
