"""Turn printed values into typed ones: amounts to Decimal, dates to ISO, ids to canonical form.

Money never passes through float. Every parser returns None for text it cannot read with
certainty, so a caller can tell "absent" from "zero".
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache
from importlib.resources import files

from stdnum import bic as stdnum_bic
from stdnum import exceptions as stdnum_errors
from stdnum import iban as stdnum_iban

# ---------------------------------------------------------------- text

_SPACES = "\u00a0\u2007\u2009\u202f\u2002\u2003\u2004\u2005\u2006\u2008\u200a"


def fold(text: str) -> str:
    """Case- and accent-insensitive form for matching labels: 'Fälligkeitsdatum' -> 'falligkeitsdatum'."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return stripped.replace("ß", "ss").casefold()


def clean_spaces(text: str) -> str:
    for ch in _SPACES:
        text = text.replace(ch, " ")
    return re.sub(r"\s+", " ", text).strip()


# ---------------------------------------------------------------- amounts

CURRENCY_SYMBOLS = {
    "€": "EUR",
    "£": "GBP",
    "¥": "JPY",
    "₹": "INR",
    "₽": "RUB",
    "₩": "KRW",
    "₺": "TRY",
    "₫": "VND",
    "฿": "THB",
    "₱": "PHP",
    "zł": "PLN",
    "kč": "CZK",
    "rm": "MYR",
    "rs": "INR",
    "rs.": "INR",
    "s$": "SGD",
    "us$": "USD",
    "a$": "AUD",
    "c$": "CAD",
    "hk$": "HKD",
    "chf": "CHF",
    "fr.": "CHF",
    "$": "USD",
}

_MINUS = "-\u2212\u2012\u2013\u2014"
# Everything that may surround a number in an amount cell: currency codes/symbols, signs, markers.
_AMOUNT_RE = re.compile(
    r"""^(?P<neg1>[(\-\u2212\u2013+])?\s*
        (?P<cur1>[A-Z]{3}|[€£¥₹$]|RM|Rs\.?|S\$|US\$)?\s*
        (?P<neg2>[\-\u2212\u2013])?\s*
        (?P<num>\d{1,3}(?:[ .,'’]\d{3})+(?:[.,]\d{1,4})?|\d+(?:[.,]\d{1,4})?|[.,]\d{1,2})
        \s*(?P<cur2>[A-Z]{3}|[€£¥₹$]|RM)?\s*
        (?P<neg3>[)\-\u2212]|CR|DR|Cr|Dr)?$""",
    re.VERBOSE,
)


def _digits_value(num: str, decimal_sep: str | None) -> Decimal | None:
    num = num.replace(" ", "").replace("'", "").replace("’", "")
    dots, commas = num.count("."), num.count(",")
    if dots and commas:
        dec = "." if num.rfind(".") > num.rfind(",") else ","
    elif dots or commas:
        sep = "." if dots else ","
        tail = num.rsplit(sep, 1)[1]
        if (dots + commas) > 1:
            dec = "" if len(tail) == 3 else sep  # 1.234.567 groups; 1.234.56 is junk -> treat last as decimal
        elif len(tail) == 3 and decimal_sep != sep:
            dec = ""  # "1.234" / "1,234": a thousands group unless told this is the decimal mark
        else:
            dec = sep
    else:
        dec = ""
    if dec:
        whole, _, frac = num.rpartition(dec)
        whole = whole.replace(".", "").replace(",", "")
        num = f"{whole or '0'}.{frac}"
    else:
        num = num.replace(".", "").replace(",", "")
    try:
        return Decimal(num)
    except InvalidOperation:
        return None


@dataclass(frozen=True)
class Amount:
    value: Decimal
    currency: str | None  # ISO code when a symbol or code was printed beside the number
    text: str
    marker: str | None = None  # "CR" / "DR" when printed after the number


def parse_amount(text: str, *, decimal_sep: str | None = None) -> Amount | None:
    """Read one printed amount: '1.234,56 €', '$1,234.56', '(12.00)', '12.00-', '12,00 CR', 'RM 60.30'.

    CR / trailing minus / parentheses make it negative (credit). `decimal_sep` settles '1.234'.
    """
    t = clean_spaces(text)
    if not t or len(t) > 40:
        return None
    m = _AMOUNT_RE.match(t)
    if m is None:
        return None
    value = _digits_value(m["num"], decimal_sep)
    if value is None:
        return None
    neg1, neg3 = m["neg1"], m["neg3"]
    if (neg1 == "(") != (neg3 == ")"):
        return None
    marker = neg3.upper() if neg3 and neg3.isalpha() else None
    # A credit mark (CR), a minus on either side or parentheses make it negative; DR is a debit.
    negative = bool((neg1 and neg1 != "+") or m["neg2"] or (neg3 and marker != "DR"))
    cur = m["cur1"] or m["cur2"]
    code = None
    if cur:
        code = CURRENCY_SYMBOLS.get(cur.casefold(), cur if re.fullmatch(r"[A-Z]{3}", cur) else None)
        if code and code not in iso_currencies():
            return None  # 'ABC 12' is not money
    return Amount(-value if negative else value, code, text, marker)


def format_amount(value: Decimal, places: int = 2) -> str:
    """Decimal string for the schema: at least `places` decimals, more only when printed."""
    exp = value.as_tuple().exponent
    if isinstance(exp, int) and -exp > places:
        q = value.normalize()
        qexp = q.as_tuple().exponent
        if isinstance(qexp, int) and -qexp > places:
            return f"{q:f}"
    return f"{value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP):f}"


def format_quantity(value: Decimal) -> str:
    q = value.normalize()
    return f"{q:f}" if q != q.to_integral() else f"{q.to_integral():f}"


# ---------------------------------------------------------------- dates

MONTHS: dict[str, int] = {}
for _i, _names in enumerate(
    [
        "january jan enero ene januar janner jan janvier janv janeiro januari gennaio",
        "february feb febrero febr februar feb fevrier fevr fev februari febbraio",
        "march mar marzo marz mars marco maart",
        "april apr abril abr avril avr",
        "may mayo mai mei maggio",
        "june jun junio juni juin giugno",
        "july jul julio juli juillet juil luglio",
        "august aug agosto ago aout august augustus",
        "september sep sept septiembre setiembre set septembre settembre",
        "october oct octubre okt oktober octobre ottobre",
        "november nov noviembre novembre",
        "december dec diciembre dic dezember dez decembre dicembre",
    ],
    start=1,
):
    for _n in _names.split():
        MONTHS[_n] = _i

_MONTH_ALT = "|".join(sorted(MONTHS, key=len, reverse=True))
_SEP = r"[./\-]"
DATE_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("ymd", re.compile(r"(?<!\d)(?P<y>(?:19|20)\d{2})[./\-](?P<m>\d{1,2})[./\-](?P<d>\d{1,2})(?!\d)")),
    (
        "dmy",
        # The year may run straight into a time ("19-03-201818:08:38" from a receipt's OCR).
        re.compile(
            rf"(?<![\d.])(?P<a>\d{{1,2}}){_SEP}\s?(?P<b>\d{{1,2}}){_SEP}\s?"
            r"(?P<y>(?:19|20)\d{2}(?=\d{1,2}:\d{2})|(?:19|20)?\d{2}(?!\d))"
        ),
    ),
    (
        "d_mon_y",
        re.compile(
            rf"(?<![\w])(?P<d>\d{{1,2}})(?:st|nd|rd|th|er|\.)?[\s\-/]*(?:de\s+)?(?P<mon>{_MONTH_ALT})\.?[\s\-/,]*(?:de\s+)?(?P<y>(?:19|20)\d{{2}}|\d{{2}})(?![\w])",
            re.IGNORECASE,
        ),
    ),
    (
        "mon_d_y",
        re.compile(
            rf"(?<![\w])(?P<mon>{_MONTH_ALT})\.?\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s*,?\s*(?P<y>(?:19|20)\d{{2}})(?![\w])",
            re.IGNORECASE,
        ),
    ),
]


@dataclass(frozen=True)
class FoundDate:
    value: date
    start: int
    end: int
    ambiguous: bool  # day and month could be swapped (both <= 12, no hint)


def _year(y: str) -> int:
    n = int(y)
    return n + 2000 if n < 100 and len(y) == 2 and n < 70 else (n + 1900 if n < 100 else n)


def _make(y: int, m: int, d: int) -> date | None:
    try:
        return date(y, m, d)
    except ValueError:
        return None


def _matches(pattern: re.Pattern[str], text: str) -> Iterator[re.Match[str]]:
    """Every match, also those overlapping an earlier one: in "REG #19- 21/05/2018" the first
    try reads "19- 21/05" (no date), and the real date starts inside it."""
    pos = 0
    while (m := pattern.search(text, pos)) is not None:
        yield m
        pos = m.start() + 1


def find_dates(text: str, *, day_first: bool = True) -> list[FoundDate]:
    """Every date printed in `text`, in order. Numeric d/m order follows `day_first` when ambiguous."""
    found: list[FoundDate] = []
    taken: list[tuple[int, int]] = []
    folded = fold(text)  # same length as text for Latin scripts; month names matched accent-free
    if len(folded) != len(text):
        folded = text
    for kind, pattern in DATE_PATTERNS:
        for m in _matches(pattern, folded):
            if any(m.start() < e and s < m.end() for s, e in taken):
                continue
            value, ambiguous = None, False
            if kind == "ymd":
                value = _make(int(m["y"]), int(m["m"]), int(m["d"]))
            elif kind == "dmy":
                a, b, y = int(m["a"]), int(m["b"]), _year(m["y"])
                day_is_a = a > 12 or (day_first and b <= 12)
                value = _make(y, b, a) if day_is_a else _make(y, a, b)
                ambiguous = a <= 12 and b <= 12 and a != b
            else:
                mon = MONTHS.get(m["mon"].lower().rstrip("."))
                if mon:
                    value = _make(_year(m["y"]), mon, int(m["d"]))
            if value is not None and 1990 <= value.year <= 2099:
                found.append(FoundDate(value, m.start(), m.end(), ambiguous))
                taken.append((m.start(), m.end()))
    return sorted(found, key=lambda f: f.start)


def parse_date(text: str, *, day_first: bool = True) -> date | None:
    found = find_dates(text, day_first=day_first)
    return found[0].value if found else None


# ---------------------------------------------------------------- identifiers


def compact_id(text: str) -> str:
    return re.sub(r"[\s.\-]", "", text).upper() if text else text


# IBAN and BIC checks are python-stdnum's: ISO 13616 mod 97, each country's length and BBAN
# layout, and the national check digits stdnum knows (Spain's CCC, Belgium's, ...).
_IBAN_SHAPE = re.compile(r"[A-Z]{2}\d{2}[A-Z0-9]{8,30}")


def iban_problem(iban: str) -> str | None:
    """Why `iban` (spaces allowed) is not a valid IBAN, for a reviewer; None when it is valid."""
    s = re.sub(r"\s", "", iban).upper()
    if not _IBAN_SHAPE.fullmatch(s):
        return "is not shaped like an IBAN (country, 2 check digits, 8-30 letters or digits)"
    try:
        stdnum_iban.validate(s)
    except stdnum_errors.InvalidChecksum:
        return "fails its check digits (ISO 13616 mod 97, or the national ones)"
    except stdnum_errors.ValidationError:
        return f"does not have the length or layout of a {s[:2]} IBAN"
    return None


def iban_is_valid(iban: str) -> bool:
    return iban_problem(iban) is None


def bic_problem(bic: str) -> str | None:
    """Why `bic` is not a valid BIC (ISO 9362: bank, ISO country, location, branch); None when it is."""
    try:
        stdnum_bic.validate(bic)
    except stdnum_errors.InvalidComponent:
        return f"names no country ({bic[4:6]!r} is not an ISO 3166 code)"
    except stdnum_errors.ValidationError:
        return "is not shaped like a BIC (4 letters, country, 2 characters, optional 3-character branch)"
    return None


@cache
def iso_currencies() -> frozenset[str]:
    """ISO 4217 codes, from the schema's enum so there is one list."""
    common = json.loads((files("ledgerlens.schemas") / "common.schema.json").read_text(encoding="utf-8"))
    return frozenset(common["$defs"]["currency"]["enum"])


IBAN_COUNTRY_CURRENCY = {
    "DE": "EUR", "FR": "EUR", "ES": "EUR", "IT": "EUR", "NL": "EUR", "BE": "EUR", "AT": "EUR", "IE": "EUR",
    "PT": "EUR", "FI": "EUR", "LU": "EUR", "GR": "EUR", "SK": "EUR", "SI": "EUR", "EE": "EUR", "LV": "EUR",
    "LT": "EUR", "CY": "EUR", "MT": "EUR", "HR": "EUR", "MC": "EUR", "SM": "EUR", "AD": "EUR",
    "GB": "GBP", "CH": "CHF", "LI": "CHF", "SE": "SEK", "DK": "DKK", "NO": "NOK", "PL": "PLN", "CZ": "CZK",
    "HU": "HUF", "RO": "RON", "BG": "BGN", "TR": "TRY",
}  # fmt: skip


# ---------------------------------------------------------------- hints: date order, country, currency

# Countries that write numeric dates month first: 12/03/2025 is 3 December there, 12 March elsewhere.
MONTH_FIRST_COUNTRIES = frozenset({"US", "PH", "FM", "MH", "PW", "AS", "GU", "MP", "PR", "VI", "UM"})
_LOCALE_RE = re.compile(r"^[a-z]{2,3}[_-](?P<country>[A-Z]{2})\b")
_VAT_PREFIX_COUNTRY = {"EL": "GR", "XI": "GB"}  # Greece writes EL; Northern Ireland XI
_COUNTRY_AT_END = re.compile(r"(?:^|[\s,])(?P<cc>[A-Z]{2})\s*$")


def day_first_for(*, locale: str | None = None, country: str | None = None, currency: str | None = None) -> bool | None:
    """Whether numeric dates read day first (12/03 = 12 March), from the strongest hint given.

    A locale (`en_US`, `de-DE`) beats a country, which beats a currency (only USD says "month
    first"). None when nothing hints either way: the caller decides and should say it guessed.
    """
    if locale and (m := _LOCALE_RE.match(locale)):
        country = m["country"]
    if country:
        return country.upper() not in MONTH_FIRST_COUNTRIES
    if currency:
        return currency.upper() != "USD"
    return None


def country_of(data: dict[str, object]) -> str | None:
    """The vendor's (or account's) country from what a document states: VAT id, IBAN, address."""
    for key in ("vendor_vat_id", "iban"):
        value = data.get(key)
        if isinstance(value, str) and re.match(r"^\s*[A-Za-z]{2}", value):
            prefix = value.strip()[:2].upper()
            return _VAT_PREFIX_COUNTRY.get(prefix, prefix)
    address = data.get("vendor_address")
    if isinstance(address, str) and (m := _COUNTRY_AT_END.search(address.strip())):
        return m["cc"]
    return None


@dataclass(frozen=True)
class InferredCurrency:
    code: str
    how: str  # what it was inferred from, for the reviewer


def infer_currency(amount_texts: list[str], iban: str | None) -> InferredCurrency | None:
    """The currency of a document that does not state one: the symbols or codes printed beside
    its amounts when they agree, else the currency of the IBAN's country."""
    codes = {a.currency for t in amount_texts if (a := parse_amount(t)) is not None and a.currency}
    if len(codes) == 1:
        (code,) = codes
        return InferredCurrency(code, "the symbol printed with the amounts")
    compact = compact_id(iban or "")
    if not codes and compact[:2] in IBAN_COUNTRY_CURRENCY:
        return InferredCurrency(IBAN_COUNTRY_CURRENCY[compact[:2]], f"the IBAN's country ({compact[:2]})")
    return None


# ---------------------------------------------------------------- vendor names for matching

# Legal forms, written without dots or spaces (the key drops both before comparing).
LEGAL_FORMS = frozenset({
    "gmbh", "ag", "kg", "ohg", "gbr", "ug", "ek", "ev", "mbh", "kgaa", "se", "cokg", "andcokg", "andco",
    "ughaftungsbeschrankt", "sa", "sas", "sasu", "sarl", "eurl", "sca", "snc", "scs", "sl", "slu", "sll",
    "scoop", "srl", "spa", "sapa", "bv", "nv", "vof", "cv", "bvba", "sprl", "asbl", "ltd", "limited", "plc",
    "llp", "lp", "llc", "inc", "incorporated", "corp", "corporation", "co", "company", "pllc", "pc", "pty",
    "ptyltd", "sdnbhd", "bhd", "pteltd", "pvtltd", "pvt", "ab", "oy", "oyj", "as", "asa", "aps", "ks", "og",
    "kft", "zrt", "nyrt", "sro", "spzoo", "sz",
})  # fmt: skip
_KEY_PUNCT = re.compile(r"[^\w\s&]")


def vendor_key(name: str) -> str:
    """A vendor name reduced for matching: 'ACME Supplies, GmbH' and 'Acme-Supplies GmbH.' -> 'acme supplies'.

    Case, accents, punctuation and legal forms (GmbH, S.A., Ltd, Inc., Sdn Bhd, ...) are dropped;
    a leading "The" too. The result is for comparing names, never for showing them.
    """
    text = fold(clean_spaces(name)).replace("&", " and ")
    text = re.sub(r"\b(\w)\.(?=\w\.)", r"\1", text)  # s.a.r.l. -> sarl, s.a. -> sa
    text = re.sub(r"\b(\w)\.(\w)\.?", r"\1\2", text)
    words = _KEY_PUNCT.sub(" ", text).split()
    while words and words[0] == "the":
        words = words[1:]
    # Drop legal forms from the end, also spelt in two words ("sdn bhd", "pty ltd", "co kg").
    changed = True
    while changed and len(words) > 1:
        changed = False
        for n in (3, 2, 1):
            if len(words) > n and "".join(words[-n:]) in LEGAL_FORMS:
                words = words[:-n]
                changed = True
                break
    return " ".join(words)
