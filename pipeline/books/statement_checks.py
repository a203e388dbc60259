"""Statements across the store: the same statement twice, and periods of one account that overlap.

Statements are grouped by account (IBAN, else account or card number). Within an account, in
period order:
- a statement with the same period and the same transactions as an earlier one is a duplicate
  (an error on the later one, naming the earlier): booking both would book every line twice,
  and the bank files leave it out;
- a statement whose period overlaps an earlier one's is flagged (a warning naming the days and
  how many lines appear in both), since lines in the overlap are likely in both.

`statement_issues` is pure; `flag_statements` brings the stored results in line with it, the way
`duplicates.flag_duplicates` does for invoices (adding and removing these issues, recomputing the
status), and runs before every export and reconciliation.
"""

from __future__ import annotations

from collections import Counter
from datetime import date

from ledgerlens.pipeline.books.bank import BankStatement, bank_statements
from ledgerlens.pipeline.books.findings import update_findings
from ledgerlens.pipeline.books.store import Store, StoredDocument
from ledgerlens.pipeline.types import Issue, Severity

STAGE = "validate"
DUPLICATE = "duplicate_statement"
OVERLAP = "overlapping_statement"
CODES = (DUPLICATE, OVERLAP)


def _lines(st: BankStatement) -> Counter[tuple[date, str]]:
    return Counter((ln.date, f"{ln.amount:.2f}") for ln in st.lines)


def _issue(st: BankStatement, earlier: BankStatement) -> Issue | None:
    if st.first_day is None or st.last_day is None or earlier.last_day is None:
        return None
    same_period = (st.first_day, st.last_day) == (earlier.first_day, earlier.last_day)
    shared = sum((_lines(st) & _lines(earlier)).values())
    who = f"document {earlier.doc.id} ({earlier.source_name})"
    if same_period and _lines(st) == _lines(earlier):
        message = (
            f"the same statement as {who}: account {st.account_id}, {st.first_day} .. {st.last_day}, the same "
            f"{len(st.lines)} transactions; booking both would book every line twice"
        )
        return Issue(STAGE, DUPLICATE, Severity.ERROR, message, field="transactions")
    if st.first_day <= earlier.last_day:
        message = (
            f"the period {st.first_day} .. {st.last_day} overlaps {who} ({earlier.first_day} .. {earlier.last_day}) "
            f"on account {st.account_id}; {shared} transaction(s) appear in both"
        )
        return Issue(STAGE, OVERLAP, Severity.WARNING, message, field="period_start")
    return None


def statement_issues(docs: list[StoredDocument]) -> dict[int, list[Issue]]:
    """Document id -> its duplicate or overlap issue, for each statement repeating an earlier one."""
    by_account: dict[str, list[BankStatement]] = {}
    for st in bank_statements(docs):
        if st.first_day is not None:
            by_account.setdefault(st.account_id, []).append(st)
    out: dict[int, list[Issue]] = {}
    for statements in by_account.values():
        statements.sort(key=lambda s: (s.first_day or date.min, s.doc.id))
        for n, st in enumerate(statements):
            for earlier in reversed(statements[:n]):
                issue = _issue(st, earlier)
                if issue is not None:
                    out[st.doc.id] = [issue]
                    break
    return out


def flag_statements(store: Store) -> int:
    """Bring every stored statement's duplicate and overlap issues up to date; returns rows changed."""
    docs = store.all()
    return update_findings(store, docs, CODES, statement_issues(docs))
