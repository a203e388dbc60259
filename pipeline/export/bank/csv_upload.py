"""Bank statement uploads for QuickBooks Online and Xero (`--to bank-csv`), per account and period.

QuickBooks Online (Banking -> Upload from file) takes exactly one of two layouts, chosen by
`[bank] quickbooks_columns`: 3 columns `Date, Description, Amount` (signed: negative = money
out), or 4 columns `Date, Description, Credit, Debit` (money in under Credit, money out under
Debit, both positive, the other cell empty; the upload asks which column is which). Dates as
`[formats] quickbooks_date` (default: the `[formats] quickbooks` variant's, MM/DD/YYYY for "us");
no zero amounts, no thousands separators.

Xero (Bank account -> Import a Statement) takes `*Date, *Amount, Payee, Description, Reference`
(starred columns required; amount signed, negative = money spent), dates as `[formats]
xero_date` (default DD/MM/YYYY), at most 1,000 lines a file: longer periods are split into
`..._xero_part2.csv` and so on. Reference is the invoice number a reviewer gave the line.

UTF-8 with a byte order mark, CRLF, text escaped against formula injection.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from ledgerlens.pipeline.books.bank import BankLine
from ledgerlens.pipeline.export.accounts import AccountMap
from ledgerlens.pipeline.export.bank.periods import AccountPeriod, account_periods, bank_folder
from ledgerlens.pipeline.export.writer import Text, csv_bytes, write_atomic

if TYPE_CHECKING:
    from ledgerlens.pipeline.export.registry import ExportRequest

XERO_MAX_LINES = 1000
QUICKBOOKS_3 = ("Date", "Description", "Amount")
QUICKBOOKS_4 = ("Date", "Description", "Credit", "Debit")
XERO_HEADER = ("*Date", "*Amount", "Payee", "Description", "Reference")


def _money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01')):f}"


def _text(line: BankLine) -> Text:
    return Text(" ".join(line.description.split()) or line.counterparty or "(no text)")


def quickbooks_bytes(acct: AccountPeriod, accounts: AccountMap) -> bytes:
    fmt, four = accounts.quickbooks_date_format, accounts.bank.quickbooks_columns == 4
    rows = []
    for line in acct.lines:
        if line.amount == 0:
            continue  # QuickBooks refuses zero amounts
        day = line.date.strftime(fmt)
        if four:
            money_in = _money(line.amount) if line.amount > 0 else ""
            money_out = _money(-line.amount) if line.amount < 0 else ""
            rows.append([day, _text(line), money_in, money_out])
        else:
            rows.append([day, _text(line), _money(line.amount)])
    return csv_bytes(QUICKBOOKS_4 if four else QUICKBOOKS_3, rows)


def xero_parts(acct: AccountPeriod, accounts: AccountMap) -> list[bytes]:
    rows = [
        [
            line.date.strftime(accounts.xero_date),
            _money(line.amount),
            Text(line.counterparty),
            _text(line),
            Text(line.invoice_number or ""),
        ]
        for line in acct.lines
    ]
    chunks = [rows[i : i + XERO_MAX_LINES] for i in range(0, len(rows), XERO_MAX_LINES)] or [[]]
    return [csv_bytes(XERO_HEADER, chunk) for chunk in chunks]


def write(request: ExportRequest) -> list[Path]:
    folder = bank_folder(request)
    written = []
    for acct in account_periods(request.docs, request.period).accounts:
        quickbooks = quickbooks_bytes(acct, request.accounts)
        written.append(write_atomic(folder / acct.file_name("csv", "_quickbooks"), quickbooks))
        for n, part in enumerate(xero_parts(acct, request.accounts), 1):
            suffix = "_xero" if n == 1 else f"_xero_part{n}"
            written.append(write_atomic(folder / acct.file_name("csv", suffix), part))
    return written
