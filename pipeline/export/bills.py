"""Bills for QuickBooks Online and Xero: one row per bill line, a multi-line bill repeats its number.

Lines are the invoice's line items when they add up to its net amount (amounts before tax), else
one line per VAT rate from the booking (`ledger.py`). Only invoices are bills: receipts (already
paid) and credit notes (vendor credits) are skipped with the reason. Amounts are tax exclusive:
choose "exclusive of tax" when importing.

QuickBooks Online: `Bill No, Vendor, Bill Date, Due Date, Memo, Account, Line Description,
Line Amount, Line Tax Code, Currency` (its import maps columns by name; dates as in
[formats] quickbooks_date, default MM/DD/YYYY).
Xero: the columns of Xero's bill import template, required ones starred as in the template
(`*ContactName`, `*InvoiceNumber`, ...); dates as in [formats] xero_date, default DD/MM/YYYY.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ledgerlens.pipeline.books.store import StoredDocument
from ledgerlens.pipeline.export.accounts import AccountMap
from ledgerlens.pipeline.export.ledger import Entry, Ledger, build_ledger, money
from ledgerlens.pipeline.export.writer import Text, csv_bytes, write_atomic
from ledgerlens.pipeline.money import to_decimal

if TYPE_CHECKING:
    from ledgerlens.pipeline.export.registry import ExportRequest

QUICKBOOKS_HEADER = (
    "Bill No", "Vendor", "Bill Date", "Due Date", "Memo", "Account", "Line Description", "Line Amount",
    "Line Tax Code", "Currency",
)  # fmt: skip
XERO_HEADER = (
    "*ContactName", "EmailAddress", "POAddressLine1", "POAddressLine2", "POAddressLine3", "POAddressLine4",
    "POCity", "PORegion", "POPostalCode", "POCountry", "*InvoiceNumber", "*InvoiceDate", "*DueDate", "Total",
    "InventoryItemCode", "Description", "*Quantity", "*UnitAmount", "*AccountCode", "*TaxType", "TaxAmount",
    "TrackingName1", "TrackingOption1", "TrackingName2", "TrackingOption2", "Currency",
)  # fmt: skip


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
            rate = item.get("tax_rate") or e.data.get("vat_rate")
            out.append({
                "description": item.get("description") or "", "quantity": qty if exact else Decimal(1),
                "unit": price if exact else amount, "amount": amount,
                "tax_code": accounts.tax_code(e.counterparty, rate),
            })  # fmt: skip
        return out
    return [
        {"description": p.description, "quantity": Decimal(1), "unit": p.debit, "amount": p.debit,
         "tax_code": p.tax_code}
        for p in e.postings if p.kind == "expense"
    ]  # fmt: skip


def _contact(e: Entry, accounts: AccountMap) -> str:
    found = accounts.vendor(e.counterparty)
    return found.contact if found and found.contact else e.counterparty


def _day(value: Any, fmt: str) -> str:
    from datetime import date

    return date.fromisoformat(value).strftime(fmt) if isinstance(value, str) and value else ""


def quickbooks_bytes(docs: list[StoredDocument], accounts: AccountMap) -> bytes:
    rows = []
    for e in bill_ledger(docs, accounts).entries:
        account = accounts.expense_account(e.counterparty)
        for line in _lines(e, accounts):
            rows.append([
                Text(e.document_ref), Text(_contact(e, accounts)), e.date.strftime(accounts.quickbooks_date),
                _day(e.data.get("due_date"), accounts.quickbooks_date), Text(e.doc.result.source_name),
                Text(account), Text(line["description"]), money(line["amount"]), Text(line["tax_code"]), e.currency,
            ])  # fmt: skip
    return csv_bytes(QUICKBOOKS_HEADER, rows)


def xero_bytes(docs: list[StoredDocument], accounts: AccountMap) -> bytes:
    rows = []
    for e in bill_ledger(docs, accounts).entries:
        account = accounts.expense_account(e.counterparty)
        due = _day(e.data.get("due_date"), accounts.xero_date) or e.date.strftime(accounts.xero_date)
        for line in _lines(e, accounts):
            rows.append([
                Text(_contact(e, accounts)), "", "", "", "", "", "", "", "", "", Text(e.document_ref),
                e.date.strftime(accounts.xero_date), due, "", "", Text(line["description"]),
                f"{line['quantity'].normalize():f}", f"{line['unit']:f}", Text(account), Text(line["tax_code"]),
                "", "", "", "", "", e.currency,
            ])  # fmt: skip
    return csv_bytes(XERO_HEADER, rows)


def export_quickbooks(docs: list[StoredDocument], path: Path, accounts: AccountMap) -> Path:
    return write_atomic(path, quickbooks_bytes(docs, accounts))


def export_xero(docs: list[StoredDocument], path: Path, accounts: AccountMap) -> Path:
    return write_atomic(path, xero_bytes(docs, accounts))


def write_quickbooks(request: ExportRequest) -> list[Path]:
    return [export_quickbooks(request.docs, request.named("quickbooks_bills.csv"), request.accounts)]


def write_xero(request: ExportRequest) -> list[Path]:
    return [export_xero(request.docs, request.named("xero_bills.csv"), request.accounts)]
