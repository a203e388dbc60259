"""SWIFT MT940 files as DATEV's manual bank import ("Kontoumsätze importieren") reads them.

One file per account and period, one statement in it:

    :20:  reference (16x)          :25:  the IBAN (or account number)
    :28C: statement number         :60F: opening balance  C/D YYMMDD currency amount
    :61:  per transaction: value date YYMMDD, booking date MMDD, C or D, amount, N + type code,
          reference (NONREF), `//` the stable transaction id
    :86:  per transaction: business code (GVC), ?00 booking text, ?20..?29 purpose (27 chars
          each), ?32/?33 counterparty name, ?31 counterparty IBAN when the text prints one
    :62F: closing balance, then `-`

Conventions of the format: amounts unsigned with a decimal comma (the side is C or D), dates
two-digit years, the SWIFT character set only (umlauts transliterated, `?` and other characters
replaced by a space: `?` separates the :86: sub-fields), lines of at most 65 characters, CRLF.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from ledgerlens.pipeline.books.bank import BankLine
from ledgerlens.pipeline.export.bank.periods import AccountPeriod, account_periods, bank_folder
from ledgerlens.pipeline.export.writer import write_atomic
from ledgerlens.pipeline.normalize import fold

if TYPE_CHECKING:
    from ledgerlens.pipeline.export.registry import ExportRequest

LINE = 65
_SWIFT_X = re.compile(r"[^A-Za-z0-9/\-:().,'+ ]")
_TRANSLIT = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss"})
# (GVC, SWIFT type) from the booking text (folded); else a transfer in or out.
_CODES = [
    (re.compile(r"lastschrift|direct debit|prelevement|adeudo"), "005", "NDDT"),
    (re.compile(r"dauerauftrag|standing order"), "008", "NSTO"),
    (
        re.compile(r"kartenzahlung|card payment|paiement carte|compra tarjeta|geldautomat|\batm\b|retrait"),
        "106",
        "NMSC",
    ),
]


def swift_text(text: str) -> str:
    """`text` in the SWIFT character set: umlauts spelled out, accents dropped, the rest a space."""
    plain = unicodedata.normalize("NFKD", text.translate(_TRANSLIT))
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    return " ".join(_SWIFT_X.sub(" ", plain).split())


def _money(value: Decimal) -> str:
    return f"{abs(value).quantize(Decimal('0.01')):f}".replace(".", ",")


def _side(value: Decimal) -> str:
    return "D" if value < 0 else "C"


def _balance(tag: str, day: date, currency: str, value: Decimal) -> str:
    return f":{tag}:{_side(value)}{day:%y%m%d}{currency}{_money(value)}"


def _codes(line: BankLine) -> tuple[str, str]:
    text = fold(line.description)
    for pattern, gvc, swift in _CODES:
        if pattern.search(text):
            return gvc, swift
    return ("051", "NTRF") if line.amount > 0 else ("020", "NTRF")


def _chunks(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] if text else []


def _details(line: BankLine) -> list[str]:
    """The :86: field, cut into lines of at most 65 characters."""
    gvc, _ = _codes(line)
    fields = [gvc, "?00" + swift_text(line.description.split()[0] if line.description.split() else "")[:27]]
    purpose = _chunks(swift_text(line.description), 27)[:10]
    fields += [f"?2{i}{part}" for i, part in enumerate(purpose)]
    ibans = line.counterparty_ibans
    if ibans:
        fields.append(f"?31{ibans[0]}")
    name = _chunks(swift_text(line.counterparty), 27)[:2]
    fields += [f"?3{2 + i}{part}" for i, part in enumerate(name)]
    body = ":86:" + "".join(fields)
    return _chunks(body, LINE)[:6]


def _transaction(acct: AccountPeriod, line: BankLine) -> list[str]:
    _, swift = _codes(line)
    head = f":61:{line.date:%y%m%d}{line.date:%m%d}{_side(line.amount)}{_money(line.amount)}{swift}NONREF"
    return [head + "//" + acct.transaction_id(line), *_details(line)]


def mt940_bytes(acct: AccountPeriod) -> bytes:
    lines = [
        ":20:LEDGERLENS",
        f":25:{acct.account_id[:35]}",
        f":28C:{acct.end:%y%m}/1",
        _balance("60F", acct.start, acct.currency, acct.opening),
    ]
    for line in acct.lines:
        lines += _transaction(acct, line)
    lines += [_balance("62F", acct.end, acct.currency, acct.closing), "-"]
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


def write(request: ExportRequest) -> list[Path]:
    folder = bank_folder(request)
    return [
        write_atomic(folder / acct.file_name("sta"), mt940_bytes(acct))
        for acct in account_periods(request.docs, request.period).accounts
    ]
