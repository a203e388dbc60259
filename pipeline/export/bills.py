"""Bills for QuickBooks Online and Xero: one row per bill line, a multi-line bill repeats its number.

Lines are the invoice's line items when they add up to its net amount (amounts before tax), else
one line per VAT rate from the booking (`ledger.py`). Only invoices are bills: receipts (already
paid) and credit notes (vendor credits) are skipped with the reason. Amounts are tax exclusive:
choose "exclusive of tax" when importing.

QuickBooks Online, two variants (`[formats] quickbooks`): "us" writes `Bill No, Vendor, Bill
Date, Due Date, Memo, Account, Line Description, Line Amount, Currency` with MM/DD/YYYY dates;
"intl" (UK, CA, AU, ... companies) writes `Supplier` for the vendor and a `Line Tax Code`
column, with DD/MM/YYYY dates. Xero: the columns of Xero's bill import template, required ones
starred as in the template (`*ContactName`, `*InvoiceNumber`, ...); dates as in [formats]
xero_date, default DD/MM/YYYY; `*TaxType` is the tax rate's name from [tax_codes].

A file holds at most the bills its importer takes at once (Xero: 500 invoices; QuickBooks: 1,000
rows); more go to `<name>_part2.csv` and so on. The targets' rules are checked in
`xero_rules.py` and `quickbooks_rules.py` before anything is written.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ledgerlens.pipeline.books.store import StoredDocument
from ledgerlens.pipeline.export.accounts import AccountMap
from ledgerlens.pipeline.export.ledger import Entry, Ledger, build_ledger, money
from ledgerlens.pipeline.export.rules import Built
from ledgerlens.pipeline.export.writer import Text, csv_text, one_line, write_atomic
from ledgerlens.pipeline.money import to_decimal

if TYPE_CHECKING:
    from ledgerlens.pipeline.export.registry import ExportRequest

ENCODING = "utf-8-sig"
QUICKBOOKS_HEADERS = {
    "us": ("Bill No", "Vendor", "Bill Date", "Due Date", "Memo", "Account", "Line Description", "Line Amount",
           "Currency"),
    "intl": ("Bill No", "Supplier", "Bill Date", "Due Date", "Memo", "Account", "Line Description", "Line Amount",
             "Line Tax Code", "Currency"),
}  # fmt: skip
QUICKBOOKS_HEADER = QUICKBOOKS_HEADERS["us"]
QUICKBOOKS_MAX_ROWS = 1000
XERO_HEADER = (
    "*ContactName", "EmailAddress", "POAddressLine1", "POAddressLine2", "POAddressLine3", "POAddressLine4",
    "POCity", "PORegion", "POPostalCode", "POCountry", "*InvoiceNumber", "*InvoiceDate", "*DueDate", "Total",
    "InventoryItemCode", "Description", "*Quantity", "*UnitAmount", "*AccountCode", "*TaxType", "TaxAmount",
    "TrackingName1", "TrackingOption1", "TrackingName2", "TrackingOption2", "Currency",
)  # fmt: skip
XERO_MAX_INVOICES = 500


def bill_ledger(docs: list[StoredDocument], accounts: AccountMap) -> Ledger:
    """The ledger of `docs` with only bills kept: invoices that are not credit notes."""
    ledger = build_ledger(docs, accounts)
    bills = Ledger(skipped=list(ledger.skipped))
    for e in ledger.entries:
        if accounts.books[e.doc.result.doc_type].how != "bill":
            bills.skipped.append((e.doc, f"a {e.doc.result.doc_type} is already paid: not a bill"))
        elif e.reversed:
            bills.skipped.append((e.doc, "a credit note is a vendor credit: not a bill"))
        else:
            bills.entries.append(e)
    return bills


def _lines(e: Entry, accounts: AccountMap) -> list[dict[str, Any]]:
    """(description, quantity, unit price, amount, tax code) per bill line."""
    items = [i for i in e.data.get("line_items") or [] if isinstance(i, dict)]
    amounts = [to_decimal(i.get("amount")) for i in items]
    net = sum((p.debit for p in e.postings if p.kind == "expense"), Decimal(0))
    if items and None not in amounts and abs(sum(a for a in amounts if a is not None) - net) <= Decimal("0.01"):
        out = []
        for item, amount in zip(items, amounts, strict=True):
            qty, price = to_decimal(item.get("quantity")), to_decimal(item.get("unit_price"))
            exact = qty is not None and price is not None and qty * price == amount
            rate = item.get("tax_rate") or _document_rate(e.data)
            out.append({
                "description": item.get("description") or "", "quantity": qty if exact else Decimal(1),
                "unit": price if exact else amount, "amount": amount,
                "tax_code": accounts.tax_code(e.counterparty, rate, e.data),
            })  # fmt: skip
        return out
    return [
        {"description": p.description, "quantity": Decimal(1), "unit": p.debit, "amount": p.debit,
         "tax_code": p.tax_code}
        for p in e.postings if p.kind == "expense"
    ]  # fmt: skip


def _document_rate(data: dict[str, Any]) -> Any:
    """The invoice's one VAT rate: `vat_rate`, else the rate of a breakdown with a single rate."""
    rates = {r.get("rate") for r in data.get("tax_breakdown") or [] if isinstance(r, dict)}
    return data.get("vat_rate") or (rates.pop() if len(rates) == 1 else None)


def _contact(e: Entry, accounts: AccountMap) -> str:
    found = accounts.vendor(e.counterparty)
    return found.contact if found and found.contact else e.counterparty


def _day(value: Any, fmt: str) -> str:
    try:
        return date.fromisoformat(value).strftime(fmt) if isinstance(value, str) and value else ""
    except ValueError:
        return value  # as printed: the check refuses it with the rule it breaks


def _files(
    name: str,
    header: tuple[str, ...],
    bills: list[tuple[Entry, list[list[str]]]],
    fits: Callable[[int, int], bool],
) -> list[Built]:
    """The bills in files of `name` (then `<name>_part2`, ...): a bill never spans two files;
    `fits(bills, rows)` says whether a file may hold that many."""
    chunks: list[list[tuple[Entry, list[list[str]]]]] = [[]]
    for bill in bills:
        chunk = chunks[-1]
        if chunk and not fits(len(chunk) + 1, sum(len(r) for _, r in chunk) + len(bill[1])):
            chunks.append(chunk := [])
        chunk.append(bill)
    stem, _, ext = name.rpartition(".")
    out = []
    for n, chunk in enumerate(chunks, start=1):
        rows = [row for _, rs in chunk for row in rs]
        docs: list[StoredDocument | None] = [None, *(e.doc for e, rs in chunk for _ in rs)]
        out.append(Built(name if n == 1 else f"{stem}_part{n}.{ext}", csv_text(header, rows), ENCODING, docs))
    return out


def quickbooks_files(
    docs: list[StoredDocument], accounts: AccountMap, name: str = "quickbooks_bills.csv"
) -> list[Built]:
    variant, fmt = accounts.quickbooks, accounts.quickbooks_date_format
    bills = []
    for e in bill_ledger(docs, accounts).entries:
        account = accounts.expense_account(e.counterparty)
        rows = []
        for line in _lines(e, accounts):
            tax = [Text(line["tax_code"])] if variant == "intl" else []
            rows.append([
                Text(e.document_ref), Text(one_line(_contact(e, accounts))), e.date.strftime(fmt),
                _day(e.data.get("due_date"), fmt), Text(e.doc.result.source_name), Text(account),
                Text(one_line(line["description"])), money(line["amount"]), *tax, e.currency,
            ])  # fmt: skip
        bills.append((e, rows))
    return _files(name, QUICKBOOKS_HEADERS[variant], bills, lambda _, rows: rows <= QUICKBOOKS_MAX_ROWS)


def xero_files(docs: list[StoredDocument], accounts: AccountMap, name: str = "xero_bills.csv") -> list[Built]:
    fmt = accounts.xero_date
    bills = []
    for e in bill_ledger(docs, accounts).entries:
        account = accounts.expense_account(e.counterparty)
        due = _day(e.data.get("due_date"), fmt) or e.date.strftime(fmt)
        rows = []
        for line in _lines(e, accounts):
            rows.append([
                Text(one_line(_contact(e, accounts))), "", "", "", "", "", "", "", "", "", Text(e.document_ref),
                e.date.strftime(fmt), due, "", "", Text(one_line(line["description"])),
                f"{line['quantity'].normalize():f}", f"{line['unit']:f}", Text(account), Text(line["tax_code"]),
                "", "", "", "", "", e.currency,
            ])  # fmt: skip
        bills.append((e, rows))
    return _files(name, XERO_HEADER, bills, lambda invoices, _: invoices <= XERO_MAX_INVOICES)


def quickbooks_bytes(docs: list[StoredDocument], accounts: AccountMap) -> bytes:
    """The first (usually only) QuickBooks file."""
    return quickbooks_files(docs, accounts)[0].data()


def xero_bytes(docs: list[StoredDocument], accounts: AccountMap) -> bytes:
    """The first (usually only) Xero file."""
    return xero_files(docs, accounts)[0].data()


def _write(request: ExportRequest, built: list[Built]) -> list[Path]:
    return [write_atomic(request.named(b.name), b.data()) for b in built]


def write_quickbooks(request: ExportRequest) -> list[Path]:
    return _write(request, quickbooks_files(request.docs, request.accounts))


def write_xero(request: ExportRequest) -> list[Path]:
    return _write(request, xero_files(request.docs, request.accounts))
