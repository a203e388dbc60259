"""DATEV-Format Buchungsstapel (EXTF 700, category 21, format version 13) for a German accountant.

Line 1 is the EXTF header (consultant and client number, fiscal year start, account length, the
batch's date range), line 2 the column names, then one booking per line: amount always positive
with a decimal comma, S (Soll, debit) or H (Haben, credit) for the side of `Konto`, `Gegenkonto`
the other side, Belegdatum as DDMM (the year comes from the header), Belegfeld 1 the invoice
number (DATEV's 36 allowed characters), Buchungstext the vendor (60 characters). Semicolons,
Windows-1252, CRLF. A batch covers one fiscal year: documents of several years give several files.

Bookings come from `ledger.py`. An expense line of a vendor with a `datev_tax_key` is booked
gross with that BU-Schlüssel (DATEV splits the VAT); otherwise the net goes to the expense
account and the VAT to the input-tax account, each against the payable (or paid) account.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ledgerlens.pipeline.books.store import StoredDocument
from ledgerlens.pipeline.export.accounts import AccountMap
from ledgerlens.pipeline.export.ledger import Entry, build_ledger
from ledgerlens.pipeline.export.safe import escape_text
from ledgerlens.pipeline.export.writer import write_atomic

if TYPE_CHECKING:
    from ledgerlens.pipeline.export.registry import ExportRequest

ENCODING = "cp1252"
COLUMNS = (
    "Umsatz (ohne Soll/Haben-Kz)", "Soll/Haben-Kennzeichen", "WKZ Umsatz", "Kurs", "Basis-Umsatz",
    "WKZ Basis-Umsatz", "Konto", "Gegenkonto (ohne BU-Schlüssel)", "BU-Schlüssel", "Belegdatum", "Belegfeld 1",
    "Belegfeld 2", "Skonto", "Buchungstext", "Postensperre", "Diverse Adressnummer", "Geschäftspartnerbank",
    "Sachverhalt", "Zinssperre", "Beleglink",
)  # fmt: skip
_BELEG_CHARS = re.compile(r"[^A-Za-z0-9$&%*+\-/]")


@dataclass(frozen=True)
class Batch:
    fiscal_year_start: date
    entries: list[Entry]

    @property
    def name(self) -> str:
        first, last = self.date_range
        return f"EXTF_Buchungsstapel_{first:%Y%m%d}_{last:%Y%m%d}.csv"

    @property
    def date_range(self) -> tuple[date, date]:
        days = [e.date for e in self.entries]
        return min(days), max(days)


def _fiscal_start(day: date, start_month: int) -> date:
    year = day.year if day.month >= start_month else day.year - 1
    return date(year, start_month, 1)


def batches(docs: list[StoredDocument], accounts: AccountMap) -> list[Batch]:
    by_year: dict[date, list[Entry]] = defaultdict(list)
    for e in build_ledger(docs, accounts).entries:
        by_year[_fiscal_start(e.date, accounts.datev.fiscal_year_start_month)].append(e)
    return [Batch(start, entries) for start, entries in sorted(by_year.items())]


def _quote(text: str, limit: int) -> str:
    text = escape_text(re.sub(r"[\r\n;]+", " ", text)).replace('"', "'")[:limit]
    return f'"{text}"'


def _amount(value: object) -> str:
    return f"{value:.2f}".replace(".", ",")


def _beleg(number: str) -> str:
    # Belegfeld 1 takes letters, digits and $ & % * + - / only; a formula trigger cannot lead it.
    return _BELEG_CHARS.sub("", number).lstrip("+-")[:36]


def _header(batch: Batch, accounts: AccountMap, created: datetime) -> str:
    first, last = batch.date_range
    s = accounts.datev
    fields = [
        '"EXTF"', "700", "21", '"Buchungsstapel"', "13", created.strftime("%Y%m%d%H%M%S") + "000", "",
        '"RE"', '""', '""', str(s.consultant_number), str(s.client_number), f"{batch.fiscal_year_start:%Y%m%d}",
        str(s.account_length), f"{first:%Y%m%d}", f"{last:%Y%m%d}", '"ledgerlens"', '""', "1", "0", "0",
        f'"{batch.entries[0].currency or "EUR"}"', "", '""', "", "", '""', "", "", "", '""',
    ]  # fmt: skip
    return ";".join(fields)


def _rows(e: Entry, accounts: AccountMap) -> list[str]:
    vendor = accounts.vendor(e.counterparty)
    key = vendor.datev_tax_key if vendor else None
    counter = next(p for p in e.postings if p.kind == "counter")
    side = "H" if e.reversed else "S"
    lines = []
    for p in e.postings:
        if p.kind == "counter" or (key and p.kind == "tax"):
            continue
        amount = p.debit or p.credit
        bu = ""
        if key and p.kind == "expense":
            amount += p.tax_amount or 0  # gross: DATEV takes the VAT out by the key
            bu = f'"{key}"'
        lines.append(";".join([
            _amount(amount), f'"{side}"', f'"{e.currency or "EUR"}"', "", "", "", p.account, counter.account, bu,
            f"{e.date:%d%m}", f'"{_beleg(e.document_ref)}"', '""', "", _quote(e.counterparty or p.description, 60),
            "", "", "", "", "", "",
        ]))  # fmt: skip
    return lines


def _created(batch: Batch) -> datetime:
    """The newest update among the batch's documents: the file is a function of the store."""
    stamps = [d.updated_at if d.updated_at.tzinfo else d.updated_at.replace(tzinfo=UTC) for d in
              (e.doc for e in batch.entries)]  # fmt: skip
    return max(stamps).astimezone(UTC).replace(tzinfo=None)


def datev_files(docs: list[StoredDocument], accounts: AccountMap) -> dict[str, bytes]:
    """File name -> bytes, one Buchungsstapel per fiscal year present in `docs`."""
    out = {}
    for batch in batches(docs, accounts):
        lines = [_header(batch, accounts, _created(batch)), ";".join(COLUMNS)]
        for e in batch.entries:
            lines += _rows(e, accounts)
        out[batch.name] = ("\r\n".join(lines) + "\r\n").encode(ENCODING, errors="replace")
    return out


def export_datev(docs: list[StoredDocument], folder: Path, accounts: AccountMap) -> list[Path]:
    return [write_atomic(folder / name, data) for name, data in datev_files(docs, accounts).items()]


def write(request: ExportRequest) -> list[Path]:
    """One file per fiscal year in the accounting folder; the folder when there was nothing to book."""
    return export_datev(request.docs, request.accounting_dir, request.accounts) or [request.accounting_dir]
