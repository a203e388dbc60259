"""`ledgerlens reconcile`: match the statements' lines with open invoices and receipts, keep the
result in the store, and write it out.

- `exports/reconciliation.csv`: `transaction_date, amount, currency, description, status
  (matched|partial|unmatched|suggested), document, invoice_number, open_amount, score, reason`,
  one row per line and document it went to (a line paying two invoices has two rows);
- `exports/open_invoices.csv`: the invoices still open after the reconciliation, overdue ones
  marked (due before the last day the statements cover);
- the workbook (`export --to xlsx`) gets a Reconciliation sheet (the same rows, with the booking
  account of each line) and an Open invoices sheet, from what the store keeps.

`--period YYYY-MM` reconciles the lines of that period: every earlier line is matched first (in
date order), so payments made before it count, and the rows kept are replaced up to its end.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from ledgerlens.pipeline.books.bank import in_period
from ledgerlens.pipeline.books.duplicates import checked_numbers, flag_duplicates
from ledgerlens.pipeline.books.payments import MatchRow, match_rows, record, stored_matches
from ledgerlens.pipeline.books.reconcile import DUPLICATE_CODES, Reconciliation, reconcile
from ledgerlens.pipeline.books.statement_checks import flag_statements
from ledgerlens.pipeline.books.store import Store, StoredDocument
from ledgerlens.pipeline.doctypes.schemas import load_schemas
from ledgerlens.pipeline.export.accounts import AccountMap, load_accounts
from ledgerlens.pipeline.export.bank.categorize import categorize_all
from ledgerlens.pipeline.export.columns import Column, Row, Table, Value
from ledgerlens.pipeline.export.registry import check_period
from ledgerlens.pipeline.export.writer import Text, csv_bytes, write_atomic
from ledgerlens.pipeline.money import to_decimal
from ledgerlens.pipeline.types import Status

CSV_HEADER = (
    "transaction_date", "amount", "currency", "description", "status", "document", "invoice_number", "open_amount",
    "score", "reason",
)  # fmt: skip
OPEN_HEADER = (
    "document", "invoice_number", "vendor", "date", "due_date", "total", "open_amount", "currency", "status",
    "days_overdue",
)  # fmt: skip


@dataclass(frozen=True)
class OpenInvoice:
    doc: StoredDocument
    number: str
    vendor: str
    day: str
    due: date | None
    total: Decimal
    open: Decimal
    currency: str

    def days_overdue(self, as_of: date | None) -> int:
        return (as_of - self.due).days if as_of and self.due and self.due < as_of and self.open > 0 else 0


@dataclass
class ReconcileReport:
    files: list[Path]
    counts: dict[str, int]
    open_invoices: list[OpenInvoice]
    as_of: date | None
    lines: int


def _money(value: Decimal | None) -> str:
    return "" if value is None else f"{value.quantize(Decimal('0.01')):f}"


def reconciliation_csv(rows: list[MatchRow]) -> bytes:
    return csv_bytes(
        CSV_HEADER,
        [
            [r.transaction_date.isoformat(), _money(r.amount), r.currency, Text(" ".join(r.description.split())),
             r.status, Text(r.document), Text(r.invoice_number), _money(r.open_amount), f"{r.score:.2f}",
             Text(r.reason)]
            for r in rows
        ],
    )  # fmt: skip


def open_invoices(docs: list[StoredDocument], rows: list[MatchRow], accounts: AccountMap) -> list[OpenInvoice]:
    """The bills with something left open after the kept payments, oldest due date first."""
    left: dict[str, Decimal] = {}
    for r in rows:
        if r.document_sha256 and r.status in ("matched", "partial") and r.open_amount is not None:
            left[r.document_sha256] = r.open_amount  # rows come in date order: the last one counts
    out = []
    for d in docs:
        data, booking = d.result.data, accounts.books.get(d.result.doc_type)
        if any(i.code in DUPLICATE_CODES for i in d.result.issues) or d.result.status is Status.FAILED:
            continue
        if booking is None or booking.how != "bill" or data.get("document_subtype") == "credit_note":
            continue
        total = to_decimal(data.get("amount_due") or data.get("total_amount"))
        if total is None:
            continue
        due = date.fromisoformat(data["due_date"]) if data.get("due_date") else None
        still = left.get(d.result.sha256, total)
        if still > 0:
            number = str(data.get(booking.ref_field) or "")
            out.append(OpenInvoice(d, number, data.get("vendor_name") or "", data.get("date") or "", due, total, still,
                                   data.get("currency") or ""))  # fmt: skip
    return sorted(out, key=lambda o: (o.due or date.max, o.doc.id))


def open_invoices_csv(items: list[OpenInvoice], as_of: date | None) -> bytes:
    return csv_bytes(
        OPEN_HEADER,
        [
            [Text(o.doc.result.source_name), Text(o.number), Text(o.vendor), o.day, o.due.isoformat() if o.due else "",
             _money(o.total), _money(o.open), o.currency, "overdue" if o.days_overdue(as_of) else "open",
             str(o.days_overdue(as_of))]
            for o in items
        ],
    )  # fmt: skip


def run_reconcile(
    store: Store, workspace_root: Path, *, period: str | None = None, now: datetime | None = None
) -> ReconcileReport:
    """Reconcile, keep the rows in the store, write the two CSV files; returns what happened."""
    if period is not None:
        check_period(period)
    schemas = load_schemas(workspace_root / "schemas")
    flag_duplicates(store, checked_numbers(schemas))  # a scan of a booked invoice is not open twice
    flag_statements(store)
    accounts = load_accounts(workspace_root)
    docs = store.all()
    rec: Reconciliation = reconcile(_through(docs, period), schemas)
    bookings = {t: b.how for t, b in accounts.books.items()}
    rows = match_rows(rec, bookings)
    through = _period_end(period) if period else None
    record(store, rows, through, now or datetime.now(UTC))
    shown = [r for r in rows if in_period(r.transaction_date, period)]
    counts = dict.fromkeys(("matched", "partial", "suggested", "unmatched"), 0)
    for m in rec.lines:
        if in_period(m.line.date, period):
            counts[m.status] += 1
    items = open_invoices(docs, stored_matches(store), accounts)
    exports = workspace_root / "exports"
    files = [
        write_atomic(exports / "reconciliation.csv", reconciliation_csv(shown)),
        write_atomic(exports / "open_invoices.csv", open_invoices_csv(items, rec.as_of)),
    ]
    return ReconcileReport(files, counts, items, rec.as_of, sum(counts.values()))


def _period_end(period: str) -> date:
    year, _, month = period.partition("-")
    if not month:
        return date(int(year), 12, 31)
    return date(int(year), int(month), calendar.monthrange(int(year), int(month))[1])


def _through(docs: list[StoredDocument], period: str | None) -> list[StoredDocument]:
    """Statements with their lines after the period dropped: those are not reconciled yet."""
    if period is None:
        return docs
    out = []
    for d in docs:
        txns = d.result.data.get("transactions")
        if isinstance(txns, list):
            kept = [
                t if isinstance(t, dict) and str(t.get("date") or "")[: len(period)] <= period else None for t in txns
            ]
            if any(k is None for k in kept):  # keep indexes: an empty placeholder is an unreadable row
                data = {**d.result.data, "transactions": [k if k is not None else {} for k in kept]}
                d = StoredDocument(d.id, replace(d.result, data=data), d.attempts, d.created_at, d.updated_at)
        out.append(d)
    return out


# --- workbook sheets ---------------------------------------------------------------------------

SUGGESTED = "payment_suggested"


def review_suggestions(docs: list[StoredDocument], rows: list[MatchRow]) -> dict[int, list[tuple[str, str, str, str]]]:
    """Document id -> (field, severity, code, reason) for each doubtful match: typing the invoice
    number into corrected_value (or accepting it) confirms it at the next `reconcile`."""
    by_sha = {d.result.sha256: d for d in docs}
    out: dict[int, list[tuple[str, str, str, str]]] = {}
    for r in rows:
        doc = by_sha.get(r.statement_sha256)
        if doc is None or r.status != "suggested":
            continue
        who = f"{r.invoice_number or r.document}" + (f" ({r.document})" if r.invoice_number else "")
        reason = (f"{r.transaction_date} {r.amount:f}: may pay {who}, score {r.score:.2f}: {r.reason}; type the "
                  "invoice number(s) into corrected_value to confirm")  # fmt: skip
        out.setdefault(doc.id, []).append(
            (f"transactions[{r.line_index}].invoice_number", "warning", SUGGESTED, reason)
        )
    return out


SHEET_COLUMNS = (
    Column("source_file"), Column("transaction_date", "date"), Column("amount", "amount"), Column("currency"),
    Column("description"), Column("status"), Column("document"), Column("invoice_number"),
    Column("allocated", "amount"), Column("open_amount", "amount"), Column("score", "score"), Column("reason"),
    Column("account"), Column("booked_as"),
)  # fmt: skip
OPEN_COLUMNS = (
    Column("source_file"), Column("invoice_number"), Column("vendor"), Column("date", "date"),
    Column("due_date", "date"), Column("total", "amount"), Column("open_amount", "amount"), Column("currency"),
    Column("status"), Column("days_overdue", "int"),
)  # fmt: skip


def reconciliation_tables(docs: list[StoredDocument], rows: list[MatchRow], accounts: AccountMap) -> list[Table]:
    """The Reconciliation and Open invoices sheets (nothing when no statement is among `docs`)."""
    by_sha = {d.result.sha256: d for d in docs}
    statement_rows = [r for r in rows if r.statement_sha256 in by_sha]
    if not statement_rows:
        return []
    categories = categorize_all(docs, accounts)
    sheet = []
    for r in statement_rows:
        doc = by_sha[r.statement_sha256]
        cat = categories.get((doc.id, r.line_index))
        booked = "payment of the document" if r.status in ("matched", "partial") else (cat.how if cat else "")
        account = (accounts.payable if r.booking == "bill" else accounts.paid) if booked.startswith("payment") else (
            cat.account if cat else "")  # fmt: skip
        values = [
            Value(doc.result.source_name), Value(r.transaction_date, "date"), Value(r.amount, "amount"),
            Value(r.currency), Value(" ".join(r.description.split())), Value(r.status), Value(r.document or None),
            Value(r.invoice_number or None), Value(r.allocated, "amount"), Value(r.open_amount, "amount"),
            Value(r.score, "score"), Value(r.reason), Value(account or None), Value(booked or None),
        ]  # fmt: skip
        sheet.append(Row(doc, values))
    as_of = max((r.transaction_date for r in rows), default=None)
    open_rows = [
        Row(
            o.doc,
            [
                Value(o.doc.result.source_name),
                Value(o.number or None),
                Value(o.vendor or None),
                Value(date.fromisoformat(o.day) if o.day else None, "date"),
                Value(o.due, "date"),
                Value(o.total, "amount"),
                Value(o.open, "amount"),
                Value(o.currency or None),
                Value("overdue" if o.days_overdue(as_of) else "open"),
                Value(o.days_overdue(as_of), "int"),
            ],
        )
        for o in open_invoices(docs, rows, accounts)
    ]
    return [Table("Reconciliation", list(SHEET_COLUMNS), sheet), Table("Open invoices", list(OPEN_COLUMNS), open_rows)]
