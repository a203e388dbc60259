"""DATEV's format check for the Buchungsstapel fields we write, run on every line before a file is
written: the header, the column row and each booking against the expression DATEV publishes for
its field, plus the checks DATEV's import makes across fields (the Belegdatum inside the batch's
period, a foreign currency with its rate, accounts no longer than the account length).

Sources (read 2026-12-06):
- DATEV-Format, Formatbeschreibung Buchungsstapel (Formatkategorie 21, Formatversion 13) and
  Header (Versionsnummer 700): developer.datev.de/datev/platform/de/dtvf/formate/buchungsstapel
  and .../formate/header. One deviation: the portal's expression for Kurs (#4) starts with
  [1-9], which no rate below 1 could meet; we accept 0,xxxx too.
- DATEV Hilfe-Center Dok.-Nr. 1003221 (Beleglink: "BEDI"/"DDMS" + GUID of a DATEV document store).
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from ledgerlens.pipeline.export.accounts import AccountMap
from ledgerlens.pipeline.export.datev import COLUMNS, HEADER_FIELDS, TEXT_FIELDS, F, datev_built
from ledgerlens.pipeline.export.rules import Built, Checker, Refusal, Rule

if TYPE_CHECKING:
    from ledgerlens.pipeline.export.registry import ExportRequest

TARGET = "datev"
_FORMAT = "DATEV Formatbeschreibung Buchungsstapel v13 (developer.datev.de)"
_HEADER = "DATEV Formatbeschreibung Header v700 (developer.datev.de)"
RULES = {
    r.id: r
    for r in (
        Rule("datev.line_endings", "lines end with CRLF", _FORMAT),
        Rule("datev.charset", "every character exists in Windows-1252 (ANSI)", _FORMAT),
        Rule(
            "datev.header", "the 31 header fields match their expressions (EXTF, 700, 21, 13, numbers, dates)", _HEADER
        ),
        Rule("datev.skr", "the header names the chart of accounts, SKR 03 or 04 (field 27)", _HEADER),
        Rule("datev.period", "Datum vom..bis lies in the fiscal year that starts at WJ-Beginn", _HEADER),
        Rule("datev.columns", "line 2 holds the 125 column names of format version 13", _FORMAT),
        Rule("datev.fields", "a booking has 125 fields; text fields quoted, the others bare", _FORMAT),
        Rule("datev.umsatz", "Umsatz ^\\d{1,10},\\d{2}$, positive (not 0,00)", _FORMAT),
        Rule("datev.side", 'Soll/Haben-Kennzeichen "S" or "H"', _FORMAT),
        Rule(
            "datev.currency",
            "WKZ Umsatz an ISO code; another than the header's needs Kurs, Basis-Umsatz and WKZ Basis-Umsatz",
            _FORMAT,
        ),
        Rule(
            "datev.account",
            "Konto and Gegenkonto ^\\d{1,9}$, not zero, at most the account length (+1 for personal accounts)",
            _FORMAT,
        ),
        Rule("datev.account_known", "the account exists in the chart (accounts.toml)", _HEADER),
        Rule("datev.bu_key", 'BU-Schlüssel empty or ^"\\d{4}"$', _FORMAT),
        Rule("datev.belegdatum", "Belegdatum TTMM, a real day inside the header's Datum vom..bis", _FORMAT),
        Rule("datev.belegfeld", "Belegfeld 1 filled, at most 36 of A-Z a-z 0-9 $ & % * + - /", _FORMAT),
        Rule("datev.text", "Buchungstext at most 60 characters, Beleginfo Art 20 and Inhalt 210", _FORMAT),
        Rule("datev.date", "Leistungsdatum and Fälligkeit TTMMJJJJ, a real day", _FORMAT),
    )
}
_QUOTED = re.compile(r'"([^"]*)"')


def raw_fields(line: str) -> list[str]:
    """The fields of a line as written, quotes kept ("" inside quotes is one quote)."""
    fields, i, n = [], 0, len(line)
    while True:
        start = i
        if i < n and line[i] == '"':
            i += 1
            while i < n and not (line[i] == '"' and (i + 1 == n or line[i + 1] != '"')):
                i += 2 if line[i] == '"' else 1
            i += 1
        while i < n and line[i] != ";":
            i += 1
        fields.append(line[start:i])
        if i >= n:
            return fields
        i += 1


def _unquote(value: str) -> str | None:
    m = _QUOTED.fullmatch(value)
    return m.group(1) if m else None


def _day(text: str, fmt: str) -> date | None:
    try:
        if fmt == "%Y%m%d":
            return date(int(text[:4]), int(text[4:6]), int(text[6:8])) if re.fullmatch(r"20\d{6}", text) else None
        if fmt == "%d%m%Y":
            return date(int(text[4:]), int(text[2:4]), int(text[:2])) if re.fullmatch(r"\d{4}20\d{2}", text) else None
    except ValueError:
        return None
    raise ValueError(fmt)


_HEADER_EXPR = {  # 1-based field -> expression (field 27, the SKR, has its own rule)
    1: r'"EXTF"',
    2: r"700",
    3: r"21",
    4: r'"Buchungsstapel"',
    5: r"13",
    6: r"20\d{15}",
    8: r'"\w{0,2}"',
    9: r'"[^"]{0,25}"',
    10: r'"[^"]{0,25}"',
    11: r"\d{4,7}",
    12: r"\d{1,5}",
    13: r"20\d{6}",
    14: r"[4-8]",
    15: r"20\d{6}",
    16: r"20\d{6}",
    17: r'"[\w.\-/ ]{0,30}"',
    18: r'"([A-Z]{2}){0,2}"',
    19: r"[12]",
    20: r"(0|30|40|50|64)",
    21: r"[01]",
    22: r'"[A-Z]{3}"',
}


def _check_header(c: Checker, fields: list[str]) -> dict[str, object] | None:
    if len(fields) != HEADER_FIELDS:
        c.refuse(None, "datev.header", f"the header has {len(fields)} fields, not {HEADER_FIELDS}")
        return None
    bad = [n for n, expr in _HEADER_EXPR.items() if not re.fullmatch(expr, fields[n - 1])]
    for n in bad:
        c.refuse(None, "datev.header", f"header field {n} {fields[n - 1]!r} does not match {_HEADER_EXPR[n]}")
    consultant, client = int(fields[10] or 0) if 11 not in bad else 0, int(fields[11] or 0) if 12 not in bad else 0
    if 11 not in bad and not 1001 <= consultant <= 9999999:
        c.refuse(None, "datev.header", f"Beraternummer {consultant} is not 1001..9999999 ([datev] consultant_number)")
    if 12 not in bad and not 1 <= client <= 99999:
        c.refuse(None, "datev.header", f"Mandantennummer {client} is not 1..99999 ([datev] client_number)")
    if _unquote(fields[26]) not in ("03", "04"):
        c.refuse(
            None,
            "datev.skr",
            f'no SKR in the header ({fields[26]}): set [chart] skr = "03" or "04" in '
            "accounts.toml, or start from `ledgerlens init --chart skr03` (or skr04)",
        )
    start, first, last = (_day(fields[n], "%Y%m%d") for n in (12, 14, 15))
    if start and first and last:
        end = date(start.year + 1, start.month, 1)
        if not start <= first <= last < end:
            c.refuse(
                None, "datev.period", f"Datum vom {first} .. bis {last} is not inside the fiscal year from {start}"
            )
    return {
        "first": first,
        "last": last,
        "length": int(fields[13]) if 14 not in bad else 0,
        "currency": _unquote(fields[21]),
    }


def check_file(built: Built, accounts: AccountMap) -> list[Refusal]:
    c = Checker(TARGET, RULES, built)
    c.line_endings("datev.line_endings")
    lines = built.lines("\r\n")
    c.encodable("datev.charset", lines)
    header = _check_header(c, raw_fields(lines[0]))
    if len(lines) < 2 or [_unquote(f) or f for f in raw_fields(lines[1])] != list(COLUMNS):
        c.refuse(None, "datev.columns", "line 2 is not the 125 column names of Buchungsstapel version 13")
    if header is None:
        return c.found
    for n, line in enumerate(lines[2:], start=3):
        fields = raw_fields(line)
        if len(fields) != len(COLUMNS):
            c.refuse(n, "datev.fields", f"{len(fields)} fields, not {len(COLUMNS)}")
            continue
        _check_booking(c, n, fields, header, accounts)
    return c.found


def _check_booking(c: Checker, n: int, fields: list[str], header: dict[str, object], accounts: AccountMap) -> None:
    for k, value in enumerate(fields, start=1):
        if (k in TEXT_FIELDS) != (value.startswith('"') and value.endswith('"') and len(value) >= 2) and value:
            c.refuse(n, "datev.fields", f"field {k} ({COLUMNS[k - 1]}) {value!r} is wrongly quoted")
    v = {name: (_unquote(fields[i - 1]) if i in TEXT_FIELDS else fields[i - 1]) or "" for name, i in F.items()}
    umsatz = v["Umsatz (ohne Soll/Haben-Kz)"]
    if not re.fullmatch(r"\d{1,10},\d{2}", umsatz) or re.fullmatch(r"0+,00", umsatz):
        c.refuse(n, "datev.umsatz", f"Umsatz {umsatz!r} is not a positive amount like 1234,56", "total_amount")
    if v["Soll/Haben-Kennzeichen"] not in ("S", "H"):
        c.refuse(n, "datev.side", f"Soll/Haben-Kennzeichen {v['Soll/Haben-Kennzeichen']!r} is not S or H")
    _check_currency(c, n, v, header)
    for name in ("Konto", "Gegenkonto (ohne BU-Schlüssel)"):
        _check_account(c, n, name, v[name], header, accounts)
    bu = fields[F["BU-Schlüssel"] - 1]
    if bu not in ("", '""') and not re.fullmatch(r'"\d{4}"', bu):
        c.refuse(n, "datev.bu_key", f"BU-Schlüssel {bu} is not four digits")
    _check_belegdatum(c, n, v["Belegdatum"], header)
    beleg = v["Belegfeld 1"]
    if not re.fullmatch(r"[A-Za-z0-9$&%*+\-/]{1,36}", beleg):
        c.refuse(
            n, "datev.belegfeld", f"Belegfeld 1 {beleg!r} is empty, too long or has other characters", "invoice_number"
        )
    if len(v["Buchungstext"]) > 60:
        c.refuse(n, "datev.text", "Buchungstext is longer than 60 characters", "vendor_name")
    for i in range(1, 9):
        if len(v[f"Beleginfo - Art {i}"]) > 20 or len(v[f"Beleginfo - Inhalt {i}"]) > 210:
            c.refuse(n, "datev.text", f"Beleginfo {i} is longer than 20 (Art) or 210 (Inhalt) characters")
    for name, field in (("Leistungsdatum", "delivery_date"), ("Fälligkeit", "due_date")):
        if v[name] and _day(v[name], "%d%m%Y") is None:
            c.refuse(n, "datev.date", f"{name} {v[name]!r} is not a day as TTMMJJJJ", field)


def _check_currency(c: Checker, n: int, v: dict[str, str], header: dict[str, object]) -> None:
    wkz, home = v["WKZ Umsatz"], header["currency"]
    if wkz and not re.fullmatch(r"[A-Z]{3}", wkz):
        c.refuse(n, "datev.currency", f"WKZ Umsatz {wkz!r} is not an ISO 4217 code", "currency")
    elif wkz and wkz != home:
        kurs, basis = v["Kurs"], v["Basis-Umsatz"]
        if not (re.fullmatch(r"\d{1,4},\d{2,6}", kurs) and Decimal(kurs.replace(",", ".")) > 0):
            c.refuse(
                n,
                "datev.currency",
                f"{wkz} is not the batch's currency {home}: a Kurs is needed "
                f"(add {wkz} to [exchange_rates] in accounts.toml)",
                "currency",
            )
        elif not re.fullmatch(r"\d{1,10},\d{2}", basis) or v["WKZ Basis-Umsatz"] != home:
            c.refuse(
                n, "datev.currency", f"Basis-Umsatz {basis!r} {v['WKZ Basis-Umsatz']!r} is not an amount in {home}"
            )


def _check_account(
    c: Checker, n: int, name: str, account: str, header: dict[str, object], accounts: AccountMap
) -> None:
    length = header["length"]
    assert isinstance(length, int)
    if not re.fullmatch(r"\d{1,9}", account) or set(account) == {"0"}:
        c.refuse(n, "datev.account", f"{name} {account!r} is not an account number")
    elif length and len(account) > length + 1:
        c.refuse(n, "datev.account", f"{name} {account} is longer than the account length {length} (+1)")
    elif not accounts.chart.knows(account):
        c.refuse(
            n,
            "datev.account_known",
            f"{name} {account} is not in the chart: map the vendor in accounts.toml, or "
            "start from `ledgerlens init --chart skr03` (or skr04)",
            "vendor_name",
        )


def _check_belegdatum(c: Checker, n: int, value: str, header: dict[str, object]) -> None:
    first, last = header["first"], header["last"]
    if not re.fullmatch(r"\d{4}", value):
        c.refuse(n, "datev.belegdatum", f"Belegdatum {value!r} is not TTMM", "date")
        return
    if isinstance(first, date) and isinstance(last, date):
        days = []
        for year in range(first.year, last.year + 1):
            try:
                days.append(date(year, int(value[2:]), int(value[:2])))
            except ValueError:
                continue
        if not any(first <= d <= last for d in days):
            c.refuse(n, "datev.belegdatum", f"Belegdatum {value} is not a day between {first} and {last}", "date")


def check_built(files: list[Built], accounts: AccountMap) -> list[Refusal]:
    return [r for built in files for r in check_file(built, accounts)]


def check(request: ExportRequest) -> list[Refusal]:
    return check_built(datev_built(request.docs, request.accounts), request.accounts)
