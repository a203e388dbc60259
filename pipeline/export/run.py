"""One export: the duplicate check, which documents go out, the format's files, what is reported.

The command line calls `run_export`; so can anything else that exports (the review screen, a flow).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ledgerlens.pipeline.books.audit import exported, mark_exported
from ledgerlens.pipeline.books.bank import is_statement
from ledgerlens.pipeline.books.duplicates import checked_numbers, flag_duplicates
from ledgerlens.pipeline.books.payments import stored_matches
from ledgerlens.pipeline.books.statement_checks import flag_statements
from ledgerlens.pipeline.books.store import Store
from ledgerlens.pipeline.config import Config
from ledgerlens.pipeline.doctypes.schemas import load_schemas
from ledgerlens.pipeline.export.accounts import load_accounts
from ledgerlens.pipeline.export.bank.categorize import with_learned
from ledgerlens.pipeline.export.ledger import Ledger, build_ledger, in_period
from ledgerlens.pipeline.export.registry import ExportRequest, check_period, export_format


@dataclass
class ExportReport:
    files: list[Path]
    documents: int
    flagged: int  # documents the duplicate check changed
    unmapped: list[str] = field(default_factory=list)  # vendors without an account (booked to suspense)
    suspense: str = ""
    left_out: list[tuple[str, str]] = field(default_factory=list)  # (file name, why) not booked


def run_export(
    store: Store,
    workspace_root: Path,
    config: Config,
    name: str,
    *,
    period: str | None = None,
    since_last: bool = False,
    output: Path | None = None,
    now: datetime | None = None,
) -> ExportReport:
    """Flag duplicates, choose the documents, write the format, remember what went out."""
    fmt = export_format(name)
    if period is not None:
        check_period(period)
    accounts = with_learned(load_accounts(workspace_root), store)  # + rules learned from bank-line corrections
    flagged = flag_duplicates(store, checked_numbers(load_schemas(workspace_root / "schemas")))
    flagged += flag_statements(store)  # the same statement twice, overlapping periods of one account
    docs = [d for d in store.all() if in_period(d, period)]
    if since_last:
        done = exported(store, fmt.name)
        docs = [d for d in docs if d.result.sha256 not in done]
    request = ExportRequest(docs, workspace_root, config, accounts, period, output, tuple(stored_matches(store)))
    files = fmt.write(request)
    if since_last:
        mark_exported(store, fmt.name, [d.result.sha256 for d in docs], now or datetime.now(UTC), str(files[0]))
    report = ExportReport(files, len(docs), flagged, suspense=accounts.suspense)
    if fmt.books:
        booked = [d for d in docs if not (fmt.bank_lines and is_statement(d))]  # statements: lines booked apart
        _booking_notes(report, build_ledger(booked, accounts))
    report.left_out += fmt.not_written(request)
    return report


def _booking_notes(report: ExportReport, ledger: Ledger) -> None:
    report.unmapped = sorted({e.counterparty for e in ledger.entries if not e.mapped})
    report.left_out = [(doc.result.source_name, reason) for doc, reason in ledger.skipped]
