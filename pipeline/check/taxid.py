"""VAT identification numbers: the country's format, and its check digit where one is published.

`check_vat_id("DE 136 695 976")` -> VatCheck(country="DE", valid=True, checked=True).
Check digits implemented (each from the tax administration's published rule):

    AT  UID, weights 1-2 with cross sums          BE  97 - (first 8 digits mod 97)
    DE  ISO 7064 MOD 11,10                        DK  weights 2,7,6,5,4,3,2,1, mod 11
    ES  NIF / NIE (mod 23 letter), CIF control    FI  weights 7,9,10,5,8,4,2, mod 11
    FR  key = (12 + 3 * (SIREN mod 97)) mod 97    HR  ISO 7064 MOD 11,10 (OIB)
    IT  Luhn over 11 digits                       LU  first 6 digits mod 89
    NL  weights 9..2 mod 11, or MOD 97 (2020 ids) PL  weights 6,5,7,2,3,4,5,6,7, mod 11
    PT  weights 9..2, mod 11                      SE  Luhn over the 10-digit org number + "01"

Every other EU country (and GB, CH, NO) is checked for its format only: `checked` is False.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Format of the part after the two-letter prefix (EU VIES formats; GB, CH, NO national).
FORMATS = {
    "AT": r"U\d{8}", "BE": r"[01]\d{9}", "BG": r"\d{9,10}", "CY": r"\d{8}[A-Z]", "CZ": r"\d{8,10}",
    "DE": r"\d{9}", "DK": r"\d{8}", "EE": r"\d{9}", "EL": r"\d{9}", "ES": r"[A-Z0-9]\d{7}[A-Z0-9]",
    "FI": r"\d{8}", "FR": r"[A-HJ-NP-Z0-9]{2}\d{9}", "HR": r"\d{11}", "HU": r"\d{8}",
    "IE": r"\d{7}[A-W][A-I]?|\d[A-Z+*]\d{5}[A-W]",
    "IT": r"\d{11}", "LT": r"\d{9}|\d{12}", "LU": r"\d{8}", "LV": r"\d{11}", "MT": r"\d{8}",
    "NL": r"\d{9}B\d{2}", "PL": r"\d{10}", "PT": r"\d{9}", "RO": r"[1-9]\d{1,9}", "SE": r"\d{10}01",
    "SI": r"\d{8}", "SK": r"\d{10}", "XI": r"\d{9}|\d{12}|GD\d{3}|HA\d{3}",
    "GB": r"\d{9}|\d{12}|GD\d{3}|HA\d{3}", "CH": r"E\d{9}(MWST|TVA|IVA)?", "NO": r"\d{9}(MVA)?",
}  # fmt: skip


@dataclass(frozen=True)
class VatCheck:
    country: str | None
    valid: bool
    checked: bool  # True when a check digit was verified (not only the format)
    reason: str = ""


def compact_vat_id(value: str) -> str:
    return re.sub(r"[\s.\-/]", "", value).upper()


def check_vat_id(value: str) -> VatCheck:
    s = compact_vat_id(value)
    country, rest = s[:2], s[2:]
    if country == "GR":
        country = "EL"  # Greece's VAT prefix is EL
    pattern = FORMATS.get(country)
    if pattern is None:
        return VatCheck(None, True, False, "not an EU/GB/CH/NO VAT id; not checked")
    if not re.fullmatch(pattern, rest):
        return VatCheck(country, False, False, f"does not have the {country} format")
    check = _CHECKS.get(country)
    if check is None:
        return VatCheck(country, True, False, "format only: no check digit implemented for this country")
    ok = check(rest)
    return VatCheck(country, ok, True, "" if ok else "the check digit does not match")


def _digits(s: str) -> list[int]:
    return [int(c) for c in s]


def _luhn_ok(s: str) -> bool:
    total = 0
    for i, d in enumerate(reversed(_digits(s))):
        if i % 2:
            d *= 2
            d -= 9 if d > 9 else 0
        total += d
    return total % 10 == 0


def _mod11_10_ok(s: str) -> bool:
    """ISO 7064 MOD 11,10 over all digits but the last, which is the check digit."""
    product = 10
    for d in _digits(s[:-1]):
        total = (d + product) % 10 or 10
        product = (2 * total) % 11
    return (11 - product) % 10 == int(s[-1])


def _weighted(s: str, weights: tuple[int, ...]) -> int:
    return sum(w * d for w, d in zip(weights, _digits(s), strict=False))


def _at(rest: str) -> bool:
    digits = _digits(rest[1:])
    total = 0
    for i, d in enumerate(digits[:7]):
        p = d * (2 if i % 2 else 1)
        total += p // 10 + p % 10
    return (10 - (total + 4) % 10) % 10 == digits[7]


def _be(rest: str) -> bool:
    return 97 - int(rest[:8]) % 97 == int(rest[8:])


def _dk(rest: str) -> bool:
    return _weighted(rest, (2, 7, 6, 5, 4, 3, 2, 1)) % 11 == 0


def _fi(rest: str) -> bool:
    r = _weighted(rest, (7, 9, 10, 5, 8, 4, 2)) % 11
    return r != 1 and (0 if r == 0 else 11 - r) == int(rest[7])


def _fr(rest: str) -> bool:
    key, siren = rest[:2], rest[2:]
    if not key.isdigit():
        return True  # the newer alphanumeric keys have no published public check
    return int(key) == (12 + 3 * (int(siren) % 97)) % 97


def _lu(rest: str) -> bool:
    return int(rest[:6]) % 89 == int(rest[6:])


def _nl(rest: str) -> bool:
    body = rest[:9]
    old = _weighted(body, (9, 8, 7, 6, 5, 4, 3, 2)) % 11
    if old != 10 and old == int(body[8]):
        return True
    # Ids issued since 2020 to sole traders: ISO 7064 MOD 97-10 over "NL" + the id, letters as 10..35.
    return int("".join(str(int(c, 36)) for c in "NL" + rest)) % 97 == 1


def _pl(rest: str) -> bool:
    r = _weighted(rest, (6, 5, 7, 2, 3, 4, 5, 6, 7)) % 11
    return r != 10 and r == int(rest[9])


def _pt(rest: str) -> bool:
    r = 11 - _weighted(rest, (9, 8, 7, 6, 5, 4, 3, 2)) % 11
    return (0 if r >= 10 else r) == int(rest[8])


def _se(rest: str) -> bool:
    return _luhn_ok(rest[:10])


_NIF_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"


def _es(rest: str) -> bool:
    head, body, control = rest[0], rest[1:8], rest[8]
    if head.isdigit() or head in "XYZ":  # NIF of a person (8 digits + letter) or NIE (X/Y/Z)
        number = ("XYZ".index(head) if head in "XYZ" else int(head), body)
        return _NIF_LETTERS[int(f"{number[0]}{number[1]}") % 23] == control
    if head in "KLM":  # NIF of a Spaniard without DNI: letter + 7 digits + control letter
        return _NIF_LETTERS[int(body) % 23] == control
    # CIF (companies): odd positions doubled with cross sums, even positions as they are.
    total = 0
    for i, d in enumerate(_digits(body)):
        if i % 2 == 0:
            p = 2 * d
            total += p // 10 + p % 10
        else:
            total += d
    digit = (10 - total % 10) % 10
    letter = "JABCDEFGHI"[digit]
    if head in "ABEH":
        return control == str(digit)
    if head in "KPQSNW":
        return control == letter
    return control in (str(digit), letter)


_CHECKS = {
    "AT": _at, "BE": _be, "DE": _mod11_10_ok, "DK": _dk, "ES": _es, "FI": _fi, "FR": _fr,
    "HR": _mod11_10_ok, "IT": _luhn_ok, "LU": _lu, "NL": _nl, "PL": _pl, "PT": _pt, "SE": _se,
}  # fmt: skip
