"""The `[bank]` section of accounts.toml: bank ledger accounts, upload options and ordered rules.

```toml
[bank]
account = "1200"            # the bank's ledger account in the journal (SKR03 1200, SKR04 1800)
quickbooks_columns = 3      # bank-csv for QuickBooks: 3 (Date, Description, Amount) or 4 (.., Credit, Debit)

[bank.accounts]             # a ledger account per bank account: IBAN or card number -> account
"DE89370400440532013000" = "1201"

[[bank.rules]]              # ordered: the first rule whose every given condition holds wins
counterparty = "Stadtwerke" # in the counterparty's name or the booking text (case and accents ignored)
iban = "DE02120300000000202051"   # the counterparty's IBAN, printed in the booking text
description = "strom|gas"   # a regular expression searched in the booking text (case-insensitive)
min_amount = "-500.00"      # signed, inclusive: negative = money out
max_amount = "0"
account = "4240"            # required: where the line is booked
tax_code = "VST19"          # optional
label = "Energy"            # optional: the category's name on the sheets
```
Unknown keys are errors, as everywhere in accounts.toml; a rule without a condition or an
account is an error, and so is a pattern that does not compile. This module is the only place
that reads `[bank]`; `accounts.py` hands the table over and keeps the result on `AccountMap.bank`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from ledgerlens.pipeline.errors import ConfigError
from ledgerlens.pipeline.export.settings import check_keys, setting_text
from ledgerlens.pipeline.money import to_decimal
from ledgerlens.pipeline.normalize import compact_id, fold

_BANK_KEYS = {"account", "quickbooks_columns", "accounts", "rules"}
_RULE_KEYS = {"counterparty", "iban", "description", "min_amount", "max_amount", "account", "tax_code", "label"}
_CONDITIONS = ("counterparty", "iban", "description", "min_amount", "max_amount")


@dataclass(frozen=True)
class BankRule:
    account: str
    counterparty: str | None = None  # folded
    iban: str | None = None
    description: re.Pattern[str] | None = None
    min_amount: Decimal | None = None
    max_amount: Decimal | None = None
    tax_code: str = ""
    label: str = ""
    source: str = ""  # "accounts.toml rule 2", "learned from a correction by ana"

    def holds(self, description: str, counterparty: str, ibans: list[str], amount: Decimal) -> bool:
        if self.counterparty is not None and self.counterparty not in fold(f"{counterparty} {description}"):
            return False
        if self.iban is not None and self.iban not in ibans:
            return False
        if self.description is not None and not self.description.search(description):
            return False
        if self.min_amount is not None and amount < self.min_amount:
            return False
        return self.max_amount is None or amount <= self.max_amount


@dataclass(frozen=True)
class BankSettings:
    account: str = "1200"
    accounts: dict[str, str] = field(default_factory=dict)  # IBAN / card number (compact) -> ledger account
    quickbooks_columns: int = 3
    rules: tuple[BankRule, ...] = ()
    learned: tuple[BankRule, ...] = ()  # from reviewers' corrections (the store), tried before `rules`

    def ledger_account(self, account_id: str) -> str:
        return self.accounts.get(compact_id(account_id), self.account)

    def with_learned(self, learned: tuple[BankRule, ...]) -> BankSettings:
        return replace(self, learned=learned)


def _amount(where: str, value: Any) -> Decimal:
    amount = to_decimal(value) if isinstance(value, str | int) else None
    if amount is None:
        raise ConfigError(f'{where} must be an amount written as text ("-500.00") or a whole number')
    return amount


def parse_rule(raw: Any, where: str) -> BankRule:
    entry = check_keys(where, raw, _RULE_KEYS)
    if "account" not in entry:
        raise ConfigError(f"{where} needs an account")
    if not any(k in entry for k in _CONDITIONS):
        raise ConfigError(f"{where} needs a condition: one of {', '.join(_CONDITIONS)}")
    pattern = None
    if "description" in entry:
        try:
            pattern = re.compile(setting_text(f"{where} description", entry["description"]), re.IGNORECASE)
        except re.error as e:
            raise ConfigError(f"{where} description is not a regular expression: {e}") from None
    amounts = {k: _amount(f"{where} {k}", entry[k]) for k in ("min_amount", "max_amount") if k in entry}
    return BankRule(
        account=setting_text(f"{where} account", entry["account"]),
        counterparty=fold(setting_text(f"{where} counterparty", entry["counterparty"]))
        if "counterparty" in entry
        else None,
        iban=compact_id(setting_text(f"{where} iban", entry["iban"])) if "iban" in entry else None,
        description=pattern,
        tax_code=setting_text(f"{where} tax_code", entry["tax_code"]) if "tax_code" in entry else "",
        label=setting_text(f"{where} label", entry["label"]) if "label" in entry else "",
        source=where,
        **amounts,
    )


def parse_bank(raw: Any, source: str = "accounts.toml") -> BankSettings:
    table = check_keys("[bank]", raw, _BANK_KEYS)
    columns = table.get("quickbooks_columns", 3)
    if columns not in (3, 4) or isinstance(columns, bool):
        raise ConfigError(f"[bank] quickbooks_columns must be 3 or 4, got {columns!r}")
    accounts = {
        compact_id(str(k)): setting_text(f"[bank.accounts] {k}", v)
        for k, v in check_keys("[bank.accounts]", table.get("accounts", {}), set(table.get("accounts", {}))).items()
    }
    rules_raw = table.get("rules", [])
    if not isinstance(rules_raw, list):
        raise ConfigError("[[bank.rules]] must be an array of tables")
    rules = tuple(parse_rule(r, f"{source} [[bank.rules]] #{i + 1}") for i, r in enumerate(rules_raw))
    account = setting_text("[bank] account", table["account"]) if "account" in table else BankSettings.account
    return BankSettings(account=account, accounts=accounts, quickbooks_columns=columns, rules=rules)
