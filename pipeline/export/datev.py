"""DATEV-Format Buchungsstapel (EXTF 700, category 21, format version 13) for a German accountant.

Line 1 is the EXTF header (31 fields: consultant and client number, fiscal year start, account
length, the batch's date range, the currency, the chart of accounts SKR 03/04 from accounts.toml
[chart] skr), line 2 the 125 column names of format version 13, then one booking per line:
amount always positive with a decimal comma, S (Soll, debit) or H (Haben, credit) for the side of
`Konto`, `Gegenkonto` the other side, Belegdatum as DDMM (the year comes from the header),
Belegfeld 1 the document's number (DATEV allows letters, digits and $ & % * + - / only: other
characters are dropped; a document without a number gets its ledgerlens entry id), Buchungstext
the vendor (60 characters), Beleginfo 1 and 2 the source file and its SHA-256 (Beleglink is
left empty: it holds links into DATEV's own document stores, "BEDI"/"DDMS" + GUID, which a file
of ours is not), Leistungsdatum where the invoice has a delivery date, Fälligkeit its due date.
A document in another currency than the chart's carries the rate of [exchange_rates] (Kurs,
Basis-Umsatz). Text fields quoted, semicolons, Windows-1252, CRLF. A batch covers one fiscal
year: documents of several years give several files.

Bookings come from `ledger.py`. An expense line of a vendor with a `datev_tax_key` is booked
gross with that BU-Schlüssel (DATEV splits the VAT); otherwise the net goes to the expense
account and the VAT to the input-tax account of its rate, each against the payable (or paid)
account. `datev_rules.py` checks every line before anything is written.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from ledgerlens.pipeline.books.store import StoredDocument
from ledgerlens.pipeline.export.accounts import AccountMap
from ledgerlens.pipeline.export.ledger import CENT, Entry, Posting, build_ledger
from ledgerlens.pipeline.export.rules import Built
from ledgerlens.pipeline.export.safe import escape_text
from ledgerlens.pipeline.export.writer import write_atomic

if TYPE_CHECKING:
    from ledgerlens.pipeline.export.registry import ExportRequest

ENCODING = "cp1252"
HEADER_FIELDS = 31
COLUMNS: tuple[str, ...] = (
    "Umsatz (ohne Soll/Haben-Kz)", "Soll/Haben-Kennzeichen", "WKZ Umsatz", "Kurs", "Basis-Umsatz",
    "WKZ Basis-Umsatz", "Konto", "Gegenkonto (ohne BU-Schlüssel)", "BU-Schlüssel", "Belegdatum", "Belegfeld 1",
    "Belegfeld 2", "Skonto", "Buchungstext", "Postensperre", "Diverse Adressnummer", "Geschäftspartnerbank",
    "Sachverhalt", "Zinssperre", "Beleglink",
    *(f"Beleginfo - {kind} {i}" for i in range(1, 9) for kind in ("Art", "Inhalt")),
    "KOST1 - Kostenstelle", "KOST2 - Kostenstelle", "Kost-Menge", "EU-Land u. UStID (Bestimmung)",
    "EU-Steuersatz (Bestimmung)", "Abw. Versteuerungsart", "Sachverhalt L+L", "Funktionsergänzung L+L",
    "BU 49 Hauptfunktionstyp", "BU 49 Hauptfunktionsnummer", "BU 49 Funktionsergänzung",
    *(f"Zusatzinformation{sep} {i}" for i in range(1, 21) for sep in (" - Art", "- Inhalt")),
    "Stück", "Gewicht", "Zahlweise", "Forderungsart", "Veranlagungsjahr", "Zugeordnete Fälligkeit", "Skontotyp",
    "Auftragsnummer", "Buchungstyp", "USt-Schlüssel (Anzahlungen)", "EU-Land (Anzahlungen)",
    "Sachverhalt L+L (Anzahlungen)", "EU-Steuersatz (Anzahlungen)", "Erlöskonto (Anzahlungen)", "Herkunft-Kz",
    "Buchungs GUID", "KOST-Datum", "SEPA-Mandatsreferenz", "Skontosperre", "Gesellschaftername",
    "Beteiligtennummer", "Identifikationsnummer", "Zeichnernummer", "Postensperre bis",
    "Bezeichnung SoBil-Sachverhalt", "Kennzeichen SoBil-Buchung", "Festschreibung", "Leistungsdatum",
    "Datum Zuord. Steuerperiode", "Fälligkeit", "Generalumkehr (GU)", "Steuersatz", "Land", "Abrechnungsreferenz",
    "BVV-Position", "EU-Land u. UStID (Ursprung)", "EU-Steuersatz (Ursprung)", "Abw. Skontokonto",
)  # fmt: skip
# 1-based numbers of the text fields: always quoted, "" when empty (numbers and dates are bare).
TEXT_FIELDS = frozenset(
    {2, 3, 6, 9, 11, 12, 14, 16, 20, *range(21, 39), 40, 42, *range(48, 88), 91, 95, 96, 98, 102, 103, 105, 107,
     109, 110, 112, 118, 120, 121, 123}
)  # fmt: skip
F = {name: i for i, name in enumerate(COLUMNS, start=1)}  # column name -> field number
_BELEG_CHARS = re.compile(r"[^A-Za-z0-9$&%*+\-/]")
BATCH_NAME = "ledgerlens"


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


def home_currency(accounts: AccountMap) -> str:
    return accounts.chart.currency or "EUR"


def _text(text: str, limit: int) -> str:
    return escape_text(re.sub(r"[\r\n;\t]+", " ", text)).replace('"', "'")[:limit]


def _amount(value: Decimal) -> str:
    return f"{value.quantize(CENT):f}".replace(".", ",")


def _beleg(number: str) -> str:
    # Belegfeld 1 takes letters, digits and $ & % * + - / only; a formula trigger cannot lead it.
    return _BELEG_CHARS.sub("", number).lstrip("+-")[:36]


def _header(batch: Batch, accounts: AccountMap, created: datetime) -> list[str]:
    first, last = batch.date_range
    s = accounts.datev
    return [
        '"EXTF"', "700", "21", '"Buchungsstapel"', "13", created.strftime("%Y%m%d%H%M%S") + "000", "", '"RE"',
        '""', '""', str(s.consultant_number), str(s.client_number), f"{batch.fiscal_year_start:%Y%m%d}",
        str(s.account_length), f"{first:%Y%m%d}", f"{last:%Y%m%d}", f'"{BATCH_NAME}"', '""', "1", "0", "0",
        f'"{home_currency(accounts)}"', "", '""', "", "", f'"{accounts.chart.skr}"', "", "", '""', '""',
    ]  # fmt: skip


def _ddmmyyyy(value: object) -> str:
    try:
        return date.fromisoformat(str(value)).strftime("%d%m%Y") if value else ""
    except ValueError:
        return str(value)  # as extracted: the check names the field


def _row(e: Entry, p: Posting, amount: Decimal, bu: str, counter: str, accounts: AccountMap) -> list[str]:
    fields = [""] * len(COLUMNS)

    def put(name: str, value: str) -> None:
        fields[F[name] - 1] = value

    home, currency = home_currency(accounts), e.currency or home_currency(accounts)
    put("Umsatz (ohne Soll/Haben-Kz)", _amount(amount))
    put("Soll/Haben-Kennzeichen", "H" if e.reversed else "S")
    put("WKZ Umsatz", currency)
    rate = accounts.chart.exchange_rates.get(currency) if currency != home else None
    if rate is not None:
        put("Kurs", f"{rate:.6f}".replace(".", ","))
        put("Basis-Umsatz", _amount(amount / rate))
        put("WKZ Basis-Umsatz", home)
    put("Konto", p.account)
    put("Gegenkonto (ohne BU-Schlüssel)", counter)
    put("BU-Schlüssel", bu.zfill(4) if bu else "")
    put("Belegdatum", f"{e.date:%d%m}")
    put("Belegfeld 1", _beleg(e.document_ref) or e.entry_id)
    put("Buchungstext", _text(e.counterparty or p.description, 60))
    put("Beleginfo - Art 1", "Beleg")
    put("Beleginfo - Inhalt 1", _text(e.doc.result.source_path or e.doc.result.source_name, 210))
    put("Beleginfo - Art 2", "SHA-256")
    put("Beleginfo - Inhalt 2", e.doc.result.sha256)
    if e.document_ref and _beleg(e.document_ref) != e.document_ref:
        put("Beleginfo - Art 3", "Belegnummer")
        put("Beleginfo - Inhalt 3", _text(e.document_ref, 210))
    put("Leistungsdatum", _ddmmyyyy(e.data.get("delivery_date")))
    put("Fälligkeit", _ddmmyyyy(e.data.get("due_date")))
    return [f'"{v}"' if n in TEXT_FIELDS else v for n, v in enumerate(fields, start=1)]


def _rows(e: Entry, accounts: AccountMap) -> list[list[str]]:
    vendor = accounts.vendor(e.counterparty)
    key = vendor.datev_tax_key if vendor else None
    counter = next(p for p in e.postings if p.kind == "counter")
    rows = []
    for p in e.postings:
        if p.kind == "counter" or (key and p.kind == "tax"):
            continue
        amount = p.debit or p.credit
        if key and p.kind == "expense":
            amount += p.tax_amount or 0  # gross: DATEV takes the VAT out by the key
        rows.append(_row(e, p, amount, key if key and p.kind == "expense" else "", counter.account, accounts))
    return rows


def _created(batch: Batch) -> datetime:
    """The newest update among the batch's documents: the file is a function of the store."""
    stamps = [d.updated_at if d.updated_at.tzinfo else d.updated_at.replace(tzinfo=UTC) for d in
              (e.doc for e in batch.entries)]  # fmt: skip
    return max(stamps).astimezone(UTC).replace(tzinfo=None)


def datev_built(docs: list[StoredDocument], accounts: AccountMap) -> list[Built]:
    """One Buchungsstapel per fiscal year present in `docs`, as it will be written."""
    out = []
    for batch in batches(docs, accounts):
        lines = [";".join(_header(batch, accounts, _created(batch))), ";".join(COLUMNS)]
        owners: list[StoredDocument | None] = [None, None]
        for e in batch.entries:
            for row in _rows(e, accounts):
                lines.append(";".join(row))
                owners.append(e.doc)
        out.append(Built(batch.name, "\r\n".join(lines) + "\r\n", ENCODING, owners))
    return out


def datev_files(docs: list[StoredDocument], accounts: AccountMap) -> dict[str, bytes]:
    """File name -> bytes, one Buchungsstapel per fiscal year present in `docs`."""
    return {b.name: b.data() for b in datev_built(docs, accounts)}


def write(request: ExportRequest) -> list[Path]:
    """One file per fiscal year in the accounting folder; the folder when there was nothing to book."""
    folder = request.accounting_dir
    return [write_atomic(folder / b.name, b.data()) for b in datev_built(request.docs, request.accounts)] or [folder]
