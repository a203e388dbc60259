"""QuickBooks Online's bill import rules, checked on every row of `quickbooks_bills.csv` before it
is written, for the company's variant (`[formats] quickbooks = "us" | "intl"`).

Sources (read 2026-12-06):
- QuickBooks Online "Import bills" (Settings > Import data > Bills): the column names of each
  region's sample file (US: Vendor; other regions: Supplier and a tax code per line), dates in
  the company's date format (US: MM/DD/YYYY; UK, CA, AU...: DD/MM/YYYY), amounts as plain
  numbers, at most 1,000 rows per file; summarised from Intuit's help as quoted by importers
  (cloudbusinesshq.com, importcsv.com, parsli.co).
- Intuit QuickBooks Online Accounting API, Bill entity (developer.intuit.com/app/developer/qbo/docs/
  api/accounting/all-entities/bill): DocNumber at most 21 characters, VendorRef and one expense
  line with an account required, PrivateNote (Memo) and line Description at most 4000 characters.
"""

from __future__ import annotations

import csv
import io
import re
from typing import TYPE_CHECKING

from ledgerlens.pipeline.export.accounts import QUICKBOOKS_VARIANTS, AccountMap
from ledgerlens.pipeline.export.bills import QUICKBOOKS_HEADERS, QUICKBOOKS_MAX_ROWS, quickbooks_files
from ledgerlens.pipeline.export.rules import Built, Checker, Refusal, Rule, is_plain_number, parses_as_date

if TYPE_CHECKING:
    from ledgerlens.pipeline.export.registry import ExportRequest

TARGET = "quickbooks"
_HELP = "QuickBooks Online help: Import bills (sample file, dates, 1,000 rows)"
_API = "QuickBooks Online Accounting API: Bill (developer.intuit.com)"
RULES = {
    r.id: r
    for r in (
        Rule(
            "quickbooks.header",
            "the first row has the variant's column names (us: Vendor; intl: Supplier, tax code)",
            _HELP,
        ),
        Rule("quickbooks.line_endings", "rows end with CRLF; no line break inside a cell", _HELP),
        Rule("quickbooks.required", "Bill No, the vendor, Bill Date, Account and Line Amount are filled", _API),
        Rule("quickbooks.date", "dates as the company reads them: MM/DD/YYYY (us), DD/MM/YYYY (intl)", _HELP),
        Rule("quickbooks.amount", "Line Amount is a plain number with two decimals, not negative", _HELP),
        Rule("quickbooks.bill_no", "Bill No has at most 21 characters", _API),
        Rule("quickbooks.length", "Memo and Line Description have at most 4000 characters", _API),
        Rule("quickbooks.account_known", "Account exists in the chart of accounts (accounts.toml)", _HELP),
        Rule("quickbooks.tax_code", "intl: every line has a tax code named in accounts.toml", _HELP),
        Rule("quickbooks.currency", "Currency is empty or a three-letter ISO 4217 code", _API),
        Rule("quickbooks.rows_per_file", f"at most {QUICKBOOKS_MAX_ROWS} rows per file", _HELP),
    )
}
_FIELDS = {
    "Bill No": "invoice_number",
    "Vendor": "vendor_name",
    "Supplier": "vendor_name",
    "Bill Date": "date",
    "Due Date": "due_date",
    "Currency": "currency",
}


def check_file(built: Built, accounts: AccountMap) -> list[Refusal]:
    variant = accounts.quickbooks
    header = QUICKBOOKS_HEADERS[variant]
    c = Checker(TARGET, RULES, built)
    c.line_endings("quickbooks.line_endings")
    rows = list(csv.reader(io.StringIO(built.text, newline="")))
    if not rows or tuple(rows[0]) != header:
        c.refuse(None, "quickbooks.header", f"the header is not the {variant} column set: {rows[0] if rows else ''}")
        return c.found
    if len(rows) - 1 > QUICKBOOKS_MAX_ROWS:
        c.refuse(None, "quickbooks.rows_per_file", f"{len(rows) - 1} rows in one file")
    codes = set(accounts.tax_codes.values()) | set(accounts.chart.tax_codes_abroad.values())
    codes |= {v.tax_code for v in accounts.vendors.values() if v.tax_code}
    for n, row in enumerate(rows[1:], start=2):
        _row(c, n, dict(zip(header, row, strict=False)), variant, accounts, codes)
    return c.found


def _row(c: Checker, n: int, cell: dict[str, str], variant: str, accounts: AccountMap, codes: set[str]) -> None:
    vendor = "Vendor" if variant == "us" else "Supplier"
    for col in ("Bill No", vendor, "Bill Date", "Account", "Line Amount"):
        if not cell.get(col, "").strip():
            c.refuse(n, "quickbooks.required", f"{col} is required but empty", _FIELDS.get(col))
    fmt = QUICKBOOKS_VARIANTS[variant]  # the date each variant's importer reads
    for col in ("Bill Date", "Due Date"):
        value = cell.get(col, "")
        if value and not parses_as_date(value, fmt):
            c.refuse(
                n, "quickbooks.date", f"{col} {value!r} is not {fmt} as a {variant} company reads it", _FIELDS[col]
            )
    amount = cell.get("Line Amount", "")
    if amount and (not is_plain_number(amount, 2) or amount.startswith("-")):
        c.refuse(n, "quickbooks.amount", f"Line Amount {amount!r} is not a plain amount like 123.45")
    if len(cell.get("Bill No", "")) > 21:
        c.refuse(n, "quickbooks.bill_no", f"Bill No {cell['Bill No']!r} is longer than 21 characters", "invoice_number")
    for col in ("Memo", "Line Description"):
        if len(cell.get(col, "")) > 4000:
            c.refuse(n, "quickbooks.length", f"{col} is longer than 4000 characters")
    account = cell.get("Account", "")
    if account and not accounts.chart.knows(account):
        c.refuse(
            n,
            "quickbooks.account_known",
            f"Account {account!r} is in no chart of accounts: map the vendor in "
            "accounts.toml or start one with `ledgerlens init --chart quickbooks-us` (or -uk)",
            "vendor_name",
        )
    if variant == "intl":
        code = cell.get("Line Tax Code", "")
        if not code or (codes and code not in codes):
            why = (
                "is empty: give the line's VAT rate a code in accounts.toml [tax_codes]"
                if not code
                else ("is none of the tax codes of accounts.toml")
            )
            c.refuse(n, "quickbooks.tax_code", f"Line Tax Code {code!r} {why}")
    currency = cell.get("Currency", "")
    if currency and not re.fullmatch(r"[A-Z]{3}", currency):
        c.refuse(n, "quickbooks.currency", f"Currency {currency!r} is not an ISO 4217 code", "currency")


def check_built(files: list[Built], accounts: AccountMap) -> list[Refusal]:
    return [r for built in files for r in check_file(built, accounts)]


def check(request: ExportRequest) -> list[Refusal]:
    return check_built(quickbooks_files(request.docs, request.accounts), request.accounts)
