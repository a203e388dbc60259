"""Spreadsheet formula injection: text that Excel, LibreOffice or Sheets could run as a formula.

Extracted text comes from documents we do not control; a vendor name like `=HYPERLINK(...)` or
`+cmd|' /C calc'!A0` must reach the accountant as text. A value is formula-like when it starts
with `=`, `+`, `-`, `@`, a tab or a carriage return (OWASP's list), or with one of `= + - @` after
leading whitespace: some importers trim cells before they parse them, so ` =1+1` is not safe
either. The full-width forms (`＝ ＋ － ＠`) count too, because some spreadsheet locales fold them to
the ASCII ones. Escaping prefixes a `'`, which every spreadsheet shows as text and never evaluates.

Only text is escaped. Amounts, quantities and dates are written as numbers and dates by the
exporters; a text like "-1+1" in a text column is text and is escaped.
"""

from __future__ import annotations

_TRIGGERS = frozenset("=+-@＝＋－＠")
_CONTROL_STARTS = ("\t", "\r")
ESCAPE = "'"


def is_formula_like(value: str) -> bool:
    """True when a spreadsheet could read `value` as a formula."""
    if value.startswith(_CONTROL_STARTS):
        return True
    stripped = value.lstrip()
    return bool(stripped) and stripped[0] in _TRIGGERS


def escape_text(value: str) -> str:
    """`value` with a leading `'` when it is formula-like; otherwise unchanged. Idempotent."""
    return ESCAPE + value if is_formula_like(value) else value
