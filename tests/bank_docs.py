"""Stored statements and invoices built in memory for the bank tests (files, checks, categories,
reconciliation): the shapes the pipeline stores, without running it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from ledgerlens.pipeline.books.store import StoredDocument
from ledgerlens.pipeline.types import DocumentResult, Issue, Status

IBAN = "DE89370400440532013000"
VENDOR_IBAN = "DE02120300000000202051"


def stored(
    i: int, doc_type: str, data: dict[str, Any], *, issues: list[Issue] | None = None, name: str = ""
) -> StoredDocument:
    result = DocumentResult(
        sha256=f"{i:02x}" * 32, source_name=name or f"doc{i}.pdf", media_type="application/pdf", page_count=1,
        doc_type=doc_type, status=Status.OK, data=data, issues=issues or [], confidence={}, provenance={},
        timings={}, source_path=f"done/{name or f'doc{i}.pdf'}",
    )  # fmt: skip
    stamp = datetime(2025, 1, 1, 8, 0, tzinfo=UTC) + timedelta(days=i)
    return StoredDocument(i, result, 1, stamp, stamp)


def statement(
    i: int,
    rows: list[tuple[str, str, str]],
    *,
    opening: str = "1000.00",
    iban: str | None = IBAN,
    start: str = "2025-03-01",
    end: str = "2025-03-31",
    balances: bool = True,
    **extra: Any,
) -> StoredDocument:
    """A statement with (date, description, amount) rows; closing and running balances follow."""
    name = extra.pop("name", f"statement{i}.pdf")
    running = Decimal(opening)
    txns = []
    for day, text, amount in rows:
        running += Decimal(amount)
        row = {"date": day, "description": text, "amount": amount}
        if balances:
            row["balance"] = f"{running:.2f}"
        txns.append(row)
    data: dict[str, Any] = {
        "bank_name": "Elbufer Bank AG", "account_holder": "Jana Hoffmann & Co. KG", "currency": "EUR",
        "period_start": start, "period_end": end, "opening_balance": opening, "closing_balance": f"{running:.2f}",
        "transactions": txns,
    }  # fmt: skip
    if iban:
        data["iban"] = iban
    data.update(extra)
    return stored(i, "bank_statement", data, name=name)


def invoice(i: int, number: str, vendor: str, total: str, day: str, **extra: Any) -> StoredDocument:
    data = {"invoice_number": number, "vendor_name": vendor, "total_amount": total, "date": day, "currency": "EUR"}
    data.update(extra)
    return stored(i, "invoice", data, name=f"invoice{i}.pdf")


def receipt(i: int, vendor: str, total: str, day: str) -> StoredDocument:
    data = {"vendor_name": vendor, "total_amount": total, "date": day, "currency": "EUR"}
    return stored(i, "receipt", data, name=f"receipt{i}.pdf")


ROWS = [
    ("2025-03-03", "Kartenzahlung Bäckerei Krume Leipzig", "-4.35"),
    ("2025-03-05", "Überweisung an Acme Supplies GmbH RE-2025-0042\nIBAN DE02 1203 0000 0000 2020 51", "-1190.00"),
    ("2025-03-10", "Gutschrift Erstattung Krankenkasse", "86.20"),
    ("2025-03-28", '=1+1 Gehalt Brandt & Vogel GmbH "März"', "3210.55"),
]
