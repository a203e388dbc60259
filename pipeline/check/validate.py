"""Validation: the schema first, then the business checks an accountant would do by hand.

Every failure is an issue on the result, with the numbers involved, so a reviewer sees at once
why a document was held back. Nothing here changes the data.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from ledgerlens.pipeline.check.statement import statement_issues
from ledgerlens.pipeline.check.taxid import check_vat_id, tax_number_problem
from ledgerlens.pipeline.doctypes.schemas import DocumentSchema
from ledgerlens.pipeline.money import to_decimal
from ledgerlens.pipeline.normalize import bic_problem, country_of, iban_problem, iso_currencies
from ledgerlens.pipeline.types import Issue, Severity

STAGE = "validate"
CENT = Decimal("0.01")


def _err(code: str, message: str, field: str | None = None, severity: Severity = Severity.ERROR) -> Issue:
    return Issue(STAGE, code, severity, message, field=field)


def schema_issues(data: dict[str, Any], schema: DocumentSchema) -> list[Issue]:
    out = []
    for path, message in schema.errors(data):
        field = path.removeprefix("$.").removeprefix("$") or None
        out.append(_err("schema_violation", f"{field or 'document'}: {message}", field))
    return out


def _totals(data: dict[str, Any]) -> Iterator[Issue]:
    net, tax, total = (to_decimal(data.get(k)) for k in ("net_amount", "tax_amount", "total_amount"))
    if net is not None and tax is not None and total is not None and abs(net + tax - total) > CENT:
        yield _err(
            "totals_mismatch",
            f"net {net} + tax {tax} = {net + tax}, but the total reads {total} (difference {total - net - tax})",
            "total_amount",
        )
    paid, due = to_decimal(data.get("prepaid_amount")), to_decimal(data.get("amount_due"))
    if total is not None and paid is not None and due is not None and abs(total - paid - due) > CENT:
        yield _err(
            "amount_due_mismatch",
            f"total {total} - prepaid {paid} = {total - paid}, but the amount due reads {due}",
            "amount_due",
        )


def _line_items(data: dict[str, Any]) -> Iterator[Issue]:
    items = data.get("line_items") or []
    amounts = [to_decimal(it.get("amount")) for it in items]
    for i, it in enumerate(items):
        qty, price, amount = to_decimal(it.get("quantity")), to_decimal(it.get("unit_price")), amounts[i]
        if qty is not None and price is not None and amount is not None:
            expected = qty * price
            # Unit prices may carry more decimals and lines may hold a discount: allow a cent per unit.
            if abs(expected - amount) > max(CENT, CENT * abs(qty)):
                yield _err(
                    "line_amount_mismatch",
                    f"line {i + 1}: {qty} × {price} = {expected.normalize():f}, but the line amount reads {amount}",
                    f"line_items[{i}].amount",
                    Severity.WARNING,
                )
    if not items or any(a is None for a in amounts):
        return
    total_lines = sum(a for a in amounts if a is not None)
    targets = {k: to_decimal(data.get(k)) for k in ("line_total_amount", "net_amount", "total_amount")}
    present = {k: v for k, v in targets.items() if v is not None}
    tolerance = CENT * len(items)
    if present and not any(abs(total_lines - v) <= tolerance for v in present.values()):
        named = ", ".join(f"{k} {v}" for k, v in present.items())
        yield _err(
            "line_sum_mismatch",
            f"the {len(items)} line amounts add up to {total_lines}, which matches none of {named} "
            "(a line may be missing or misread)",
            "line_items",
            Severity.WARNING,
        )


def _column_total(rows: list[dict[str, Any]], column: str) -> Decimal | None:
    """The sum of one column of the tax breakdown; None when a row lacks it."""
    values = [to_decimal(r.get(column)) for r in rows]
    return sum((v for v in values if v is not None), Decimal(0)) if rows and None not in values else None


def _tax_breakdown(data: dict[str, Any]) -> Iterator[Issue]:
    rows = data.get("tax_breakdown") or []
    tolerance = CENT * len(rows)
    tax, subtotal = to_decimal(data.get("tax_amount")), _column_total(rows, "tax_amount")
    if tax is not None and subtotal is not None and abs(subtotal - tax) > tolerance:
        message = f"the tax breakdown adds up to {subtotal}, the tax amount reads {tax}"
        yield _err("tax_breakdown_mismatch", message, "tax_breakdown")
    net, bases = to_decimal(data.get("net_amount")), _column_total(rows, "basis_amount")
    if net is not None and bases is not None and abs(bases - net) > tolerance:
        message = f"the tax breakdown's bases add up to {bases}, the net amount reads {net}"
        yield _err("tax_basis_mismatch", message, "tax_breakdown")
    for i, row in enumerate(rows):
        yield from _rate_times_basis(row, f"tax_breakdown[{i}].tax_amount", f"VAT row {i + 1}")
    if not rows and data.get("vat_rate") not in (None, ""):
        # One stated rate without a breakdown may be the main of several rates: a warning only.
        row = {"rate": data["vat_rate"], "basis_amount": data.get("net_amount"), "tax_amount": data.get("tax_amount")}
        for issue in _rate_times_basis(row, "tax_amount", "the VAT"):
            yield Issue(issue.stage, issue.code, Severity.WARNING, issue.message, field=issue.field)


def _rate_times_basis(row: dict[str, Any], field: str, what: str) -> Iterator[Issue]:
    rate, basis, tax = (to_decimal(row.get(k)) for k in ("rate", "basis_amount", "tax_amount"))
    if rate is None or basis is None or tax is None:
        return
    expected = (basis * rate / 100).quantize(CENT)
    if abs(expected - tax) > CENT:
        yield _err(
            "tax_rate_mismatch",
            f"{what}: {rate.normalize():f}% of {basis} = {expected}, but the tax reads {tax}",
            field,
        )


def _dates(data: dict[str, Any]) -> Iterator[Issue]:
    issued, due = data.get("date"), data.get("due_date")
    if issued and due and date.fromisoformat(due) < date.fromisoformat(issued):
        yield _err("due_before_issue", f"the due date {due} is before the issue date {issued}", "due_date")
    start, end = data.get("period_start"), data.get("period_end")
    if start and end and date.fromisoformat(end) < date.fromisoformat(start):
        yield _err("period_reversed", f"the statement period ends ({end}) before it starts ({start})", "period_end")


def _ids(data: dict[str, Any]) -> Iterator[Issue]:
    iban, bic = data.get("iban"), data.get("bic")
    if iban and (problem := iban_problem(iban)):
        yield _err("iban_invalid", f"IBAN {iban} {problem}: probably misread", "iban")
    if bic and (problem := bic_problem(bic)):
        yield _err("bic_invalid", f"BIC {bic} {problem}: probably misread", "bic")
    cur = data.get("currency")
    if cur and cur not in iso_currencies():
        yield _err("currency_invalid", f"{cur} is not an ISO 4217 currency code", "currency")
    for name in ("vendor_vat_id", "buyer_vat_id"):
        value = data.get(name)
        check = check_vat_id(value) if isinstance(value, str) and value else None
        if check is not None and not check.valid:
            yield _err("vat_id_invalid", f"VAT id {value} {check.reason}: probably misread", name)
    number = data.get("vendor_tax_number")
    if isinstance(number, str) and number and (problem := tax_number_problem(number, country_of(data))):
        # Format only (no check digit), and printed with more variants than VAT ids: a warning.
        yield _err("tax_number_invalid", f"tax number {number} {problem}", "vendor_tax_number", Severity.WARNING)


def _statement(data: dict[str, Any]) -> Iterator[Issue]:
    opening, closing = to_decimal(data.get("opening_balance")), to_decimal(data.get("closing_balance"))
    txns = data.get("transactions") or []
    amounts = [to_decimal(t.get("amount")) for t in txns]
    if opening is not None and closing is not None and txns and all(a is not None for a in amounts):
        moved = sum(a for a in amounts if a is not None)
        if abs(opening + moved - closing) > CENT:
            yield _err(
                "balance_mismatch",
                f"opening {opening} + transactions {moved} = {opening + moved}, "
                f"but the closing balance reads {closing}",
                "closing_balance",
            )


def _missing(data: dict[str, Any], key_fields: Sequence[str]) -> Iterator[Issue]:
    """What a document of its type is worth nothing without (its card's `key_fields`)."""
    for name in key_fields:
        if not data.get(name):
            yield _err("missing_field", f"{name} was not found on the document", name, Severity.WARNING)


def business_issues(data: dict[str, Any], key_fields: Sequence[str] = ()) -> list[Issue]:
    """Every check whose fields the data has: no check asks which type the document is."""
    checks = [
        _missing(data, key_fields),
        _totals(data),
        _line_items(data),
        _tax_breakdown(data),
        _dates(data),
        _ids(data),
        _statement(data),
        statement_issues(data),  # running balance, dates within the period (check/statement.py)
    ]
    return [issue for check in checks for issue in check]


def confidence_issues(confidence: dict[str, float], threshold: float) -> list[Issue]:
    return [
        _err(
            "low_confidence",
            f"{name} was read with confidence {conf:.2f} (below {threshold:.2f})",
            name,
            Severity.WARNING,
        )
        for name, conf in sorted(confidence.items())
        if conf < threshold
    ]


def validate(data: dict[str, Any], doc_type: str, schema: DocumentSchema) -> list[Issue]:
    """Schema violations, then business-rule failures (only on schema-valid data)."""
    problems = schema_issues(data, schema)
    if problems:
        return problems
    return business_issues(data, schema.card.key_fields)
