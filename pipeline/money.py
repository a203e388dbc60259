"""The one way a value becomes a `Decimal`: stored data, a model's JSON, a printed amount.

Every stage that does arithmetic on amounts, quantities or rates (validation, exports, scoring,
grounding) goes through `to_decimal`, so they agree on what is a number. A float never holds an
amount: a JSON number a model wrote is taken through its shortest round-trip text, not float
arithmetic. `tests/test_money.py` fails if a second helper of this kind appears.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any

from ledgerlens.pipeline.normalize import parse_amount

# What the schemas store: an optional minus, digits, optionally a point and more digits.
PLAIN_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def to_decimal(raw: Any, *, printed: bool = False) -> Decimal | None:
    """The finite Decimal `raw` stands for, or None when it is absent or not a number.

    Reads a Decimal, an int, a float (from JSON) and a plain decimal string ("-1234.50"; spaces
    around it are dropped). With `printed`, text as printed on a page too ("1.234,56 €",
    "(12.00)", "RM 60.30"), through `normalize.parse_amount`. Never a number: booleans, NaN,
    infinities, exponents ("1e5"), the empty string and None.
    """
    if isinstance(raw, bool) or raw is None:
        return None
    if isinstance(raw, Decimal):
        return raw if raw.is_finite() else None
    if isinstance(raw, int):
        return Decimal(raw)
    if isinstance(raw, float):
        return Decimal(repr(raw)) if math.isfinite(raw) else None
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    if PLAIN_DECIMAL.fullmatch(text):
        return Decimal(text)
    if printed and (amount := parse_amount(text)) is not None:
        return amount.value
    return None
