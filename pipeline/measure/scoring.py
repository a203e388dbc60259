"""Field-level scoring of extractions against labelled ground truth.

Comparison is after normalisation, by the kind of field: amounts numerically, dates as ISO
dates, identifiers without spaces and case, names and addresses case- and punctuation-
insensitively (plus a character similarity to see near misses). List fields (line items,
transactions, tax breakdown) are scored per ground-truth row. A field absent from the ground
truth is not labelled and is not counted.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any

from ledgerlens.pipeline.money import to_decimal
from ledgerlens.pipeline.normalize import fold, parse_date

AMOUNT_FIELDS = frozenset(
    {"total_amount", "net_amount", "tax_amount", "amount_due", "prepaid_amount", "line_total_amount",
     "opening_balance", "closing_balance", "vat_rate"}
)  # fmt: skip
DATE_FIELDS = frozenset({"date", "due_date", "statement_date", "period_start", "period_end"})
ID_FIELDS = frozenset({"iban", "bic", "vendor_vat_id", "buyer_vat_id", "vendor_tax_number", "account_number"})
REF_FIELDS = frozenset({"invoice_number", "receipt_number", "order_number", "buyer_reference"})
TEXT_FIELDS = frozenset({"vendor_name", "vendor_address", "buyer_name", "buyer_address", "bank_name", "account_holder"})
LIST_KEYS = {
    "line_items": ("description", "quantity", "unit_price", "amount"),
    "transactions": ("date", "amount"),
    "tax_breakdown": ("rate", "basis_amount", "tax_amount"),
}
ROW_AMOUNT_KEYS = frozenset({"quantity", "unit_price", "amount", "rate", "basis_amount", "tax_amount", "balance"})


def norm_text(value: str) -> str:
    t = unicodedata.normalize("NFKC", value)
    t = re.sub(r"[\s,.;:'\"`´’\-–]+", " ", fold(t))
    return t.strip()


# An address may end in the country's name or its ISO code: "Rotterdam, Nederland" = "Rotterdam, NL".
_COUNTRIES = {
    "de": ("germany", "deutschland", "allemagne", "alemania", "duitsland"),
    "fr": ("france", "frankreich", "francia", "frankrijk"),
    "es": ("spain", "spanien", "espagne", "espana", "spanje"),
    "nl": ("netherlands", "the netherlands", "nederland", "niederlande", "pays bas", "paises bajos"),
    "be": ("belgium", "belgien", "belgique", "belgica", "belgie"),
    "at": ("austria", "osterreich", "autriche"),
    "ch": ("switzerland", "schweiz", "suisse", "suiza", "svizzera"),
    "it": ("italy", "italien", "italie", "italia"),
    "gb": ("united kingdom", "great britain", "vereinigtes konigreich", "royaume uni", "reino unido"),
    "ie": ("ireland", "irland", "irlande", "irlanda"),
    "lu": ("luxembourg", "luxemburg"),
    "us": ("united states", "united states of america", "usa", "vereinigte staaten", "etats unis", "estados unidos"),
}
_COUNTRY_NAMES = {name: code for code, names in _COUNTRIES.items() for name in names}


def norm_address(value: str) -> str:
    t = norm_text(value)
    for name in sorted(_COUNTRY_NAMES, key=len, reverse=True):
        if t.endswith(" " + name):
            return t[: -len(name)] + _COUNTRY_NAMES[name]
    return t


def norm_id(value: str) -> str:
    return re.sub(r"[\s.\-]", "", str(value)).upper()


def norm_ref(value: Any) -> str:
    """Document numbers: case and spacing don't matter, nor a leading '#' or 'No.'."""
    return re.sub(r"\s", "", str(value)).upper().lstrip("#:")


def to_iso(value: Any) -> str | None:
    if value is None:
        return None
    s = str(value)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", s):
        return s
    d = parse_date(s)
    return d.isoformat() if d else None


def similarity(a: str, b: str) -> float:
    return SequenceMatcher(None, norm_text(a), norm_text(b)).ratio()


def same_value(field: str, expected: Any, got: Any) -> bool:
    """Is `got` the same value as `expected` for this field, after normalisation?"""
    if got is None or got == "" or got == []:
        return False
    if field in AMOUNT_FIELDS or field in ROW_AMOUNT_KEYS:
        e, g = to_decimal(expected, printed=True), to_decimal(got, printed=True)
        return e is not None and g is not None and e == g
    if field in DATE_FIELDS:
        return to_iso(expected) is not None and to_iso(expected) == to_iso(got)
    if field in ID_FIELDS:
        return norm_id(expected) == norm_id(got)
    if field in REF_FIELDS:
        return norm_ref(expected) == norm_ref(got)
    if field.endswith("_address"):
        return norm_address(str(expected)) == norm_address(str(got))
    if field == "currency":
        return str(expected).upper() == str(got).upper()
    return norm_text(str(expected)) == norm_text(str(got))


@dataclass
class FieldScore:
    field: str
    hits: int  # ground-truth units matched (1 for a scalar; rows for a list)
    total: int
    similarity: float | None = None  # for names/addresses: best character similarity

    @property
    def exact(self) -> bool:
        return self.total > 0 and self.hits == self.total


def _row_matches(keys: tuple[str, ...], exp: dict[str, Any], got: dict[str, Any]) -> bool:
    checked = [k for k in keys if k in exp]
    return bool(checked) and all(same_value(k, exp[k], got.get(k)) for k in checked)


def score_list(field: str, expected: list[dict[str, Any]], got: Any) -> FieldScore:
    """Each ground-truth row counts once if some not-yet-used predicted row matches it."""
    keys = LIST_KEYS.get(field, ())
    rows = list(got) if isinstance(got, list) else []
    used: set[int] = set()
    hits = 0
    for exp in expected:
        for i, row in enumerate(rows):
            if i not in used and isinstance(row, dict) and _row_matches(keys, exp, row):
                used.add(i)
                hits += 1
                break
    return FieldScore(field, hits, len(expected))


def score_field(field: str, expected: Any, got: Any) -> FieldScore:
    if isinstance(expected, list):
        return score_list(field, expected, got)
    hit = same_value(field, expected, got)
    sim = None
    if field in TEXT_FIELDS:
        sim = similarity(str(expected), str(got)) if got else 0.0
    return FieldScore(field, int(hit), 1, sim)


def score_document(expected: dict[str, Any], got: dict[str, Any]) -> list[FieldScore]:
    """Scores for the labelled fields only."""
    return [score_field(k, v, got.get(k)) for k, v in expected.items() if v not in (None, "", [])]
