"""A booking account for each bank line, and what to ask a reviewer about the lines left over.

In this order, the first that applies wins:
1. the account a reviewer gave the line itself (`transactions[i].account`);
2. a rule learned from an earlier correction (`books/bank_rules.py`): the same counterparty IBAN
   or name (newest first);
3. the ordered `[[bank.rules]]` of accounts.toml;
4. a counterparty known from the booked invoices (its IBAN on an invoice, or its name) whose
   vendor has an account in accounts.toml: that vendor's account;
5. otherwise the suspense account, and a Review row: "no rule covers it", with a suggestion from
   the most similar line categorized before it (shared words of the booking text).
Lines the reconciliation matched to an invoice are booked against payables instead (`postings`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date

from ledgerlens.pipeline.books.bank import BankLine, bank_statements
from ledgerlens.pipeline.books.bank_rules import LearnedRule, learned_rules
from ledgerlens.pipeline.books.store import Store, StoredDocument
from ledgerlens.pipeline.export.accounts import AccountMap
from ledgerlens.pipeline.export.bank.rules import BankRule
from ledgerlens.pipeline.normalize import compact_id, fold, vendor_key

CODE = "uncategorized_transaction"
_WORD = re.compile(r"[a-z]{3,}")


@dataclass(frozen=True)
class Category:
    account: str
    how: str  # reviewer | learned | rule | vendor | suspense
    source: str = ""  # which rule or vendor
    tax_code: str = ""
    label: str = ""
    suggestion: tuple[str, BankLine] | None = None  # (account, the similar line) for suspense lines


def learned_as_rules(learned: list[LearnedRule]) -> tuple[BankRule, ...]:
    """Learned rules in the form of accounts.toml rules (an IBAN or a counterparty name)."""
    return tuple(
        BankRule(
            account=r.account,
            iban=r.key if r.kind == "iban" else None,
            counterparty=r.key if r.kind == "counterparty" else None,
            source=f"learned from {r.user}'s correction of {' '.join(r.example.split())[:60]!r}",
        )
        for r in learned
    )


def with_learned(accounts: AccountMap, store: Store) -> AccountMap:
    """`accounts` with the rules reviewers' corrections taught (the store's `bank_rules`)."""
    return replace(accounts, bank=accounts.bank.with_learned(learned_as_rules(learned_rules(store))))


def _vendors(docs: list[StoredDocument], accounts: AccountMap) -> tuple[dict[str, str], dict[str, str]]:
    """Known vendors of booked documents: IBAN -> vendor name, vendor key -> vendor name."""
    by_iban: dict[str, str] = {}
    by_key: dict[str, str] = {}
    for d in docs:
        data = d.result.data
        name = data.get("vendor_name")
        if d.result.doc_type not in accounts.books or not name:
            continue
        if data.get("iban"):
            by_iban.setdefault(compact_id(data["iban"]), name)
        if vendor_key(name):
            by_key.setdefault(vendor_key(name), name)
    return by_iban, by_key


def _known_vendor(line: BankLine, by_iban: dict[str, str], by_key: dict[str, str]) -> str | None:
    for iban in line.counterparty_ibans:
        if iban in by_iban:
            return by_iban[iban]
    text = f" {vendor_key(line.description)} "
    return next((name for key, name in by_key.items() if f" {key} " in text), None)


def _words(text: str) -> set[str]:
    return set(_WORD.findall(fold(text)))


class Categorizer:
    def __init__(self, docs: list[StoredDocument], accounts: AccountMap) -> None:
        self.accounts = accounts
        self.by_iban, self.by_key = _vendors(docs, accounts)
        self.seen: list[tuple[date, set[str], str, BankLine]] = []  # categorized lines, for suggestions

    def rule_category(self, line: BankLine) -> Category | None:
        if line.account:
            return Category(line.account, "reviewer", "given on the line by a reviewer")
        bank = self.accounts.bank
        args = (line.description, line.counterparty, line.counterparty_ibans, line.amount)
        for how, rules in (("learned", bank.learned), ("rule", bank.rules)):
            for rule in rules:
                if rule.holds(*args):
                    return Category(rule.account, how, rule.source, rule.tax_code, rule.label)
        vendor = _known_vendor(line, self.by_iban, self.by_key)
        found = self.accounts.vendor(vendor)
        if found is not None:
            known = f"vendor {found.name} (known from its invoices)"
            return Category(found.account, "vendor", known, found.tax_code or "")
        return None

    def categorize(self, line: BankLine) -> Category:
        found = self.rule_category(line)
        if found is not None:
            self.seen.append((line.date, _words(line.description), found.account, line))
            return found
        return Category(self.accounts.suspense, "suspense", "no rule covers it", suggestion=self._similar(line))

    def _similar(self, line: BankLine) -> tuple[str, BankLine] | None:
        words = _words(line.description)
        best, best_score = None, 0.3  # below a third of shared words, nothing is "similar"
        for day, other, account, seen in self.seen:
            if day > line.date or not words or not other:
                continue
            score = len(words & other) / len(words | other)
            if score > best_score or (best is not None and score == best_score and day >= best[1].date):
                best, best_score = (account, seen), score
        return best


def categorize_all(docs: list[StoredDocument], accounts: AccountMap) -> dict[tuple[int, int], Category]:
    """(document id, line index) -> category, for every line of every statement among `docs`;
    lines are taken in date order so a suggestion only ever comes from an earlier line."""
    lines = sorted((ln for st in bank_statements(docs) for ln in st.lines), key=lambda x: (x.date, x.doc_id, x.index))
    categorizer = Categorizer(docs, accounts)
    return {(ln.doc_id, ln.index): categorizer.categorize(ln) for ln in lines}


def review_findings(docs: list[StoredDocument], accounts: AccountMap) -> dict[int, list[tuple[str, str, str, str]]]:
    """Document id -> (field, severity, code, reason) for each line booked to suspense."""
    out: dict[int, list[tuple[str, str, str, str]]] = {}
    for (doc_id, index), cat in sorted(categorize_all(docs, accounts).items()):
        if cat.how != "suspense":
            continue
        reason = f"no rule covers this line: booked to suspense account {cat.account}"
        if cat.suggestion is not None:
            account, similar = cat.suggestion
            text = " ".join(similar.description.split())[:60]
            reason += f"; suggestion: {account}, like {text!r} on {similar.date}"
        reason += " (type the account in corrected_value: it becomes a rule)"
        out.setdefault(doc_id, []).append((f"transactions[{index}].account", "warning", CODE, reason))
    return out
