"""Xero's bill import rules, checked on every row of `xero_bills.csv` before it is written.

Sources (read 2026-12-06):
- Xero's bill/invoice import help, as quoted in Xero's own guides: the template's starred columns
  are required; InvoiceNumber must differ for every invoice of the file (rows with the same
  number form one invoice); TaxType is the tax rate's display name as it appears in Xero (e.g.
  "20% (VAT on Expenses)"); more than 500 invoices must be split into several files; save as
  CSV. (online.flippingbook.com/view/399081/31/, "Xero Guide", quoting central.xero.com)
- Xero's default tax rates per region: help.xero.com/uk/Tax-SetDefaults (UK names) and
  developer.xero.com/documentation/api/accounting/types (tax types per region).
- Xero Accounting API field limits: Account Code "alpha numeric ... (max length = 10)", Contact
  Name max 255, InvoiceNumber max 255 (developer.xero.com accounting API: Accounts, Contacts,
  Invoices); line Description max 4000.
"""

from __future__ import annotations

import csv
import io
import re
from typing import TYPE_CHECKING

from ledgerlens.pipeline.export.accounts import AccountMap
from ledgerlens.pipeline.export.bills import XERO_HEADER, XERO_MAX_INVOICES, xero_files
from ledgerlens.pipeline.export.rules import Built, Checker, Refusal, Rule, is_plain_number, parses_as_date

if TYPE_CHECKING:
    from ledgerlens.pipeline.export.registry import ExportRequest

TARGET = "xero"
_HELP = "Xero help: Import bills (template, required columns, 500 invoices per file)"
_API = "Xero Accounting API field limits (developer.xero.com)"
RULES = {
    r.id: r
    for r in (
        Rule("xero.header", "the first row is Xero's bill template header, column for column", _HELP),
        Rule("xero.line_endings", "rows end with CRLF; no line break inside a cell", "RFC 4180 CSV, as Xero reads it"),
        Rule("xero.encoding", "the file is UTF-8", _HELP),
        Rule("xero.required", "every starred column has a value on every row", _HELP),
        Rule("xero.date", "InvoiceDate and DueDate are dates in the workspace's xero_date format", _HELP),
        Rule("xero.number", "Quantity and UnitAmount are plain numbers (dot, no thousands separator)", _HELP),
        Rule("xero.account_code", "AccountCode is alphanumeric, at most 10 characters", _API),
        Rule("xero.account_known", "AccountCode exists in the chart of accounts (accounts.toml)", _HELP),
        Rule("xero.tax_type", "TaxType is one of the tax rates named in accounts.toml (Xero's display names)", _HELP),
        Rule("xero.length", "ContactName and InvoiceNumber at most 255 characters, Description 4000", _API),
        Rule("xero.currency", "Currency is empty or a three-letter ISO 4217 code", _HELP),
        Rule("xero.invoice_unique", "an invoice number is used by one document per contact", _HELP),
        Rule("xero.invoices_per_file", f"at most {XERO_MAX_INVOICES} invoices per file", _HELP),
    )
}
_COL = {name.lstrip("*"): i for i, name in enumerate(XERO_HEADER)}
_REQUIRED = [name.lstrip("*") for name in XERO_HEADER if name.startswith("*")]
_LIMITS = {"ContactName": 255, "InvoiceNumber": 255, "Description": 4000}
_HINTS = {
    "TaxType": " (no tax rate for this line's VAT rate in accounts.toml [tax_codes]; `ledgerlens init --chart` "
    "writes Xero's defaults)",
    "InvoiceNumber": " (the invoice has no number)",
}
_FIELDS = {
    "ContactName": "vendor_name",
    "InvoiceNumber": "invoice_number",
    "InvoiceDate": "date",
    "DueDate": "due_date",
    "Currency": "currency",
}


def tax_rate_names(accounts: AccountMap) -> set[str]:
    """Every tax rate name accounts.toml gives: the rates Xero is expected to know."""
    names = set(accounts.tax_codes.values()) | set(accounts.chart.tax_codes_abroad.values())
    return names | {v.tax_code for v in accounts.vendors.values() if v.tax_code}


def check_file(built: Built, accounts: AccountMap, seen: dict[tuple[str, str], int]) -> list[Refusal]:
    c = Checker(TARGET, RULES, built)
    c.line_endings("xero.line_endings")
    c.encodable("xero.encoding", built.lines("\r\n"))
    rows = list(csv.reader(io.StringIO(built.text, newline="")))
    if not rows or tuple(rows[0]) != XERO_HEADER:
        c.refuse(None, "xero.header", f"the header is not Xero's template: {rows[0] if rows else '(empty)'}")
        return c.found
    names = tax_rate_names(accounts)
    invoices: set[tuple[str, str]] = set()
    for n, row in enumerate(rows[1:], start=2):
        cell = dict(zip(_COL, row, strict=False))
        _row(c, n, cell, accounts, names)
        key = (cell.get("ContactName", ""), cell.get("InvoiceNumber", ""))
        doc = built.docs[n - 1]
        first = seen.setdefault(key, doc.id if doc else -1)
        if doc is not None and first != doc.id and key[1]:
            c.refuse(
                n,
                "xero.invoice_unique",
                f"invoice {key[1]!r} of {key[0]!r} is also another document's",
                "invoice_number",
            )
        invoices.add(key)
    if len(invoices) > XERO_MAX_INVOICES:
        c.refuse(None, "xero.invoices_per_file", f"{len(invoices)} invoices in one file")
    return c.found


def _row(c: Checker, n: int, cell: dict[str, str], accounts: AccountMap, names: set[str]) -> None:
    for col in _REQUIRED:
        if not cell.get(col, "").strip():
            hint = _HINTS.get(col, "")
            c.refuse(n, "xero.required", f"*{col} is required but empty{hint}", _FIELDS.get(col))
    for col in ("InvoiceDate", "DueDate"):
        value = cell.get(col, "")
        if value and not parses_as_date(value, accounts.xero_date):
            c.refuse(n, "xero.date", f"{col} {value!r} is not a date in {accounts.xero_date}", _FIELDS[col])
    for col in ("Quantity", "UnitAmount"):
        value = cell.get(col, "")
        if value and not is_plain_number(value):
            c.refuse(n, "xero.number", f"{col} {value!r} is not a plain number")
    code = cell.get("AccountCode", "")
    if code and not re.fullmatch(r"[A-Za-z0-9]{1,10}", code):
        c.refuse(n, "xero.account_code", f"AccountCode {code!r} is not 1-10 letters or digits")
    if code and not accounts.chart.knows(code):
        c.refuse(
            n,
            "xero.account_known",
            f"AccountCode {code!r} is in no chart of accounts: map the vendor in "
            "accounts.toml or start one with `ledgerlens init --chart xero-uk` (or another)",
            "vendor_name",
        )
    tax = cell.get("TaxType", "")
    if tax and names and tax not in names:
        c.refuse(n, "xero.tax_type", f"TaxType {tax!r} is none of the tax rates of accounts.toml")
    for col, limit in _LIMITS.items():
        if len(cell.get(col, "")) > limit:
            c.refuse(n, "xero.length", f"{col} is longer than {limit} characters", _FIELDS.get(col))
    currency = cell.get("Currency", "")
    if currency and not re.fullmatch(r"[A-Z]{3}", currency):
        c.refuse(n, "xero.currency", f"Currency {currency!r} is not an ISO 4217 code", "currency")


def check_built(files: list[Built], accounts: AccountMap) -> list[Refusal]:
    seen: dict[tuple[str, str], int] = {}
    return [r for built in files for r in check_file(built, accounts, seen)]


def check(request: ExportRequest) -> list[Refusal]:
    return check_built(xero_files(request.docs, request.accounts), request.accounts)
