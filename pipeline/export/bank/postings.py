"""Bank lines as journal entries: the bank account against what the line paid or what it was for.

Each line is one entry that balances. Money out credits the bank's ledger account (`[bank]
account`, or the account's own in `[bank.accounts]`) and debits, money in the other way round:
- for a line the reconciliation matched (or matched in part) to a bill: accounts payable, per
  invoice paid (a receipt's payment goes against the `paid` clearing account its booking used);
  a rest the matched documents do not cover goes to the line's category;
- for any other line: the account its category gives (rules, learned rules, known vendors,
  else suspense; `categorize.py`), with the rule's tax code.
"""

from __future__ import annotations

from decimal import Decimal

from ledgerlens.pipeline.books.bank import bank_statements
from ledgerlens.pipeline.books.payments import MatchRow
from ledgerlens.pipeline.books.statement_checks import DUPLICATE
from ledgerlens.pipeline.books.store import StoredDocument
from ledgerlens.pipeline.export.accounts import AccountMap
from ledgerlens.pipeline.export.bank.categorize import categorize_all
from ledgerlens.pipeline.export.ledger import Entry, Posting

ZERO = Decimal(0)


def _side(account: str, amount: Decimal, text: str, money_in: bool, tax_code: str = "") -> Posting:
    """The counter posting: debit when money went out, credit when it came in."""
    return Posting(account, ZERO if money_in else amount, amount if money_in else ZERO, text, tax_code)


def bank_entries(docs: list[StoredDocument], accounts: AccountMap, matches: tuple[MatchRow, ...] = ()) -> list[Entry]:
    paid: dict[tuple[str, int], list[MatchRow]] = {}
    for m in matches:
        if m.status in ("matched", "partial") and m.document_sha256 and m.allocated is not None:
            paid.setdefault((m.statement_sha256, m.line_index), []).append(m)
    categories = categorize_all(docs, accounts)
    entries = []
    for st in bank_statements(docs):
        if any(i.code == DUPLICATE for i in st.doc.result.issues):
            continue  # the same statement twice: its lines are booked once
        bank = accounts.bank.ledger_account(st.account_id)
        for line in st.lines:
            text = " ".join(line.description.split())[:200] or st.source_name
            money_in, amount = line.amount > 0, abs(line.amount)
            bank_posting = Posting(
                bank, amount if money_in else ZERO, ZERO if money_in else amount, text, kind="counter"
            )
            lines, left, refs = [bank_posting], amount, []
            for m in paid.get((st.doc.result.sha256, line.index), []):
                part = min(m.allocated or ZERO, left)
                counter = accounts.payable if m.booking == "bill" else accounts.paid
                lines.append(_side(counter, part, f"payment {m.invoice_number or m.document}", money_in))
                left -= part
                refs.append(m.invoice_number or m.document)
            cat = categories[(st.doc.id, line.index)]
            if left > 0:
                lines.append(_side(cat.account, left, text, money_in, cat.tax_code))
            entries.append(
                Entry(
                    entry_id=f"LB{st.doc.id:06d}-{line.index:04d}",
                    doc=st.doc,
                    date=line.date,
                    currency=st.currency,
                    counterparty=line.counterparty,
                    document_ref="; ".join(refs),
                    postings=lines,
                    reversed=False,
                    mapped=bool(refs) or cat.how != "suspense",
                )
            )
    return entries
