"""The generic double-entry journal CSV: one row per posting, entries that balance.

Columns: entry_id, date, account, description, debit, credit, currency, tax_code, tax_amount,
counterparty, document_ref, source_file. Amounts are plain decimals with a dot, the side given by
the column; dates ISO; UTF-8 with a byte order mark; CRLF. Any importer that takes a general
journal (Odoo, GnuCash, Sage, a spreadsheet) can map these columns.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ledgerlens.pipeline.books.store import StoredDocument
from ledgerlens.pipeline.export.accounts import AccountMap
from ledgerlens.pipeline.export.bank.postings import bank_entries
from ledgerlens.pipeline.export.ledger import Entry, build_ledger, money
from ledgerlens.pipeline.export.writer import Text, csv_bytes, write_atomic

if TYPE_CHECKING:
    from ledgerlens.pipeline.export.registry import ExportRequest

HEADER = (
    "entry_id", "date", "account", "description", "debit", "credit", "currency", "tax_code", "tax_amount",
    "counterparty", "document_ref", "source_file",
)  # fmt: skip


def journal_bytes(docs: list[StoredDocument], accounts: AccountMap, bank: list[Entry] | None = None) -> bytes:
    """The documents' entries, then `bank`: the statements' lines (`export/bank/postings.py`)."""
    rows = []
    for e in build_ledger(docs, accounts).entries + (bank or []):
        for p in e.postings:
            rows.append([
                e.entry_id, e.date.isoformat(), Text(p.account), Text(p.description),
                money(p.debit) if p.debit else "", money(p.credit) if p.credit else "", e.currency,
                Text(p.tax_code), money(p.tax_amount) if p.kind != "counter" else "", Text(e.counterparty),
                Text(e.document_ref), Text(e.doc.result.source_name),
            ])  # fmt: skip
    return csv_bytes(HEADER, rows)


def export_journal(
    docs: list[StoredDocument], path: Path, accounts: AccountMap, bank: list[Entry] | None = None
) -> Path:
    return write_atomic(path, journal_bytes(docs, accounts, bank))


def write(request: ExportRequest) -> list[Path]:
    bank = bank_entries(request.docs, request.accounts, request.matches)
    return [export_journal(request.docs, request.named("journal.csv"), request.accounts, bank)]
