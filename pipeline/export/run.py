"""One export: the duplicate check, which documents go out, the target's check, the format's files,
what is reported.

The command line calls `run_export`; so can anything else that exports (the review screen, a flow).
A format with a `check` (registry.py) has its rows checked before anything is written: when the
target would refuse a row, `ExportRefused` names every row and rule and nothing is written; with
`allow_incomplete` the refused documents are left out (and not marked exported, so `--since-last`
offers them again) and listed in the report; `check_only` reports without writing.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
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
from ledgerlens.pipeline.export.rules import ExportRefused, Refusal, by_document


@dataclass
class ExportReport:
    files: list[Path]
    documents: int
    flagged: int  # documents the duplicate check changed
    unmapped: list[str] = field(default_factory=list)  # vendors without an account (booked to suspense)
    suspense: str = ""
    left_out: list[tuple[str, str]] = field(default_factory=list)  # (file name, why) not booked
    refused: list[Refusal] = field(default_factory=list)  # rows the target would refuse (left out, or --check)


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
    allow_incomplete: bool = False,
    check_only: bool = False,
) -> ExportReport:
    """Flag duplicates, choose the documents, check them against the target, write the format,
    remember what went out. `check_only`: the check alone, nothing written or flagged."""
    fmt = export_format(name)
    if period is not None:
        check_period(period)
    accounts = with_learned(load_accounts(workspace_root), store)  # + rules learned from bank-line corrections
    flagged = 0
    if not check_only:
        flagged = flag_duplicates(store, checked_numbers(load_schemas(workspace_root / "schemas")))
        flagged += flag_statements(store)  # the same statement twice, overlapping periods of one account
    docs = [d for d in store.all() if in_period(d, period)]
    if since_last:
        done = exported(store, fmt.name)
        docs = [d for d in docs if d.result.sha256 not in done]
    request = ExportRequest(docs, workspace_root, config, accounts, period, output, tuple(stored_matches(store)))
    refused = fmt.refusals(request)
    report = ExportReport([], len(docs), flagged, suspense=accounts.suspense, refused=refused)
    if fmt.books:
        booked = [d for d in docs if not (fmt.bank_lines and is_statement(d))]  # statements: lines booked apart
        _booking_notes(report, build_ledger(booked, accounts))
    if check_only:
        return report
    whole_file = [r for r in refused if r.doc_id is None]
    if whole_file or (refused and not allow_incomplete):
        raise ExportRefused(fmt.name, whole_file or refused, fixable=not whole_file)
    left_out = by_document(refused)
    written = replace(request, docs=[d for d in docs if d.id not in left_out])
    report.files = fmt.write(written)
    report.documents = len(written.docs)
    report.left_out += fmt.not_written(written)
    if since_last:
        shas = [d.result.sha256 for d in written.docs]
        mark_exported(store, fmt.name, shas, now or datetime.now(UTC), str(report.files[0]))
    return report


def _booking_notes(report: ExportReport, ledger: Ledger) -> None:
    report.unmapped = sorted({e.counterparty for e in ledger.entries if not e.mapped})
    report.left_out = [(doc.result.source_name, reason) for doc, reason in ledger.skipped]
