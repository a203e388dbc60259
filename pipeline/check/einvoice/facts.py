"""What the EN 16931 rules look at, with amounts as `Decimal` (None when absent or not a number)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ledgerlens.pipeline.check.einvoice.model import XmlInvoice
from ledgerlens.pipeline.money import to_decimal as dec  # the one decimal reader; facts import it from here
from ledgerlens.pipeline.types import Issue, Severity

STAGE = "einvoice"
CENT = Decimal("0.01")
ZERO = Decimal(0)


# EN 16931's VAT categories (UNCL 5305) and the prefix of their rules: BR-S-08, BR-IG-08 (IGIC), ...
CATEGORY_RULES = {"S": "S", "Z": "Z", "E": "E", "AE": "AE", "K": "K", "G": "G", "O": "O", "L": "IG", "M": "IP"}


def category_rule(category: str, number: str) -> str | None:
    """`BR-S-08` for ("S", "08"); None for a category EN 16931 does not know (BR-CL-18 names it)."""
    prefix = CATEGORY_RULES.get(category)
    return f"BR-{prefix}-{number}" if prefix else None


def money(value: Decimal) -> str:
    return f"{value.quantize(CENT) if value == value.quantize(CENT) else value:f}"


def rule(rule_id: str, message: str, field: str | None = None) -> Issue:
    """A broken EN 16931 rule: its id is the issue's code, so a reviewer can look it up."""
    return Issue(STAGE, rule_id, Severity.ERROR, f"{rule_id}: {message}", field=field)


@dataclass
class Facts:
    inv: XmlInvoice

    @property
    def fields(self) -> dict[str, Any]:
        return self.inv.fields

    def amount(self, key: str) -> Decimal | None:
        return dec(self.fields.get(key))

    @property
    def lines(self) -> list[dict[str, Any]]:
        return list(self.fields.get("line_items") or [])

    def role(self, i: int) -> str:
        roles = self.inv.line_roles
        return roles[i] if i < len(roles) else "line"

    def summed_lines(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """The lines that count towards the totals (not those inside a group, nor notes), with their index."""
        for i, line in enumerate(self.lines):
            if self.role(i) in ("line", "group"):
                yield i, line

    def taxed_lines(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """The lines whose VAT category and rate mean what they say (a group's are split over its lines)."""
        for i, line in enumerate(self.lines):
            if self.role(i) in ("line", "sub"):
                yield i, line

    @property
    def has_groups(self) -> bool:
        return any(self.role(i) == "group" for i in range(len(self.lines)))

    @property
    def rows(self) -> list[dict[str, Any]]:
        return list(self.fields.get("tax_breakdown") or [])

    def allowances_charges(self, kind: str) -> list[dict[str, Any]]:
        return [ac for ac in self.fields.get("allowances_charges") or [] if ac.get("kind") == kind]

    def sum_of(self, items: list[dict[str, Any]], key: str) -> Decimal | None:
        """The sum of `key` over `items` (0 for none); None when one of them is not a number."""
        values = [dec(item.get(key)) for item in items]
        return None if any(v is None for v in values) else sum((v for v in values if v is not None), ZERO)
