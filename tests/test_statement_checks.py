"""Statement checks: the running balance (the first row where it breaks, and which value is
misread), dates outside the period, and duplicate or overlapping statements across the store."""

from __future__ import annotations

import copy
from pathlib import Path

from bank_docs import ROWS, statement
from ledgerlens.pipeline.books.statement_checks import DUPLICATE, OVERLAP, flag_statements, statement_issues
from ledgerlens.pipeline.books.store import Store
from ledgerlens.pipeline.check.statement import statement_issues as checks_of
from ledgerlens.pipeline.check.validate import business_issues
from ledgerlens.pipeline.types import Status


def _data(**kwargs) -> dict:
    return copy.deepcopy(statement(1, ROWS, **kwargs).result.data)


def test_a_clean_statement_passes() -> None:
    assert checks_of(_data()) == []
    assert [i.code for i in business_issues(_data())] == []


def test_misread_amount_flags_its_row() -> None:
    data = _data()
    data["transactions"][1]["amount"] = "-1180.00"  # 9 read as 8; the printed balances are right
    issues = [i for i in checks_of(data) if i.code == "running_balance_mismatch"]
    assert len(issues) == 1
    assert issues[0].field == "transactions[1].amount"
    assert "row 2" in issues[0].message and "amount is probably misread" in issues[0].message
    assert "difference -10.00" in issues[0].message
    # The roll-forward catches it too, without saying where.
    assert "balance_mismatch" in [i.code for i in business_issues(data)]


def test_misread_balance_flags_the_balance() -> None:
    data = _data()
    data["transactions"][1]["balance"] = "-195.65"  # should be -194.35
    (issue,) = [i for i in checks_of(data) if i.code == "running_balance_mismatch"]
    assert issue.field == "transactions[1].balance" and "printed balance is probably misread" in issue.message


def test_first_row_is_checked_against_the_opening_balance() -> None:
    data = _data()
    data["opening_balance"] = "1100.00"
    (issue,) = [i for i in checks_of(data) if i.code == "running_balance_mismatch"]
    assert "row 1:" in issue.message and issue.field.startswith("transactions[0].")


def test_rows_without_a_balance_column_are_not_checked() -> None:
    assert checks_of(_data(balances=False)) == []


def test_date_outside_the_period() -> None:
    data = _data()
    data["transactions"][2]["date"] = "2024-03-10"  # the year of a "10.03." guessed wrong
    data["transactions"][3]["date"] = "2025-04-28"
    (issue,) = [i for i in checks_of(data) if i.code == "date_outside_period"]
    assert issue.field == "transactions[2].date" and "1 more row" in issue.message


def test_duplicates_and_overlaps_across_the_store(tmp_path: Path) -> None:
    march = statement(1, ROWS)
    again = statement(2, ROWS, name="march-again.pdf")
    overlap = statement(3, [("2025-03-28", "Gehalt", "3210.55")], start="2025-03-15", end="2025-04-14")
    april = statement(4, [("2025-04-20", "Kartenzahlung", "-3.00")], start="2025-04-15", end="2025-05-14")
    other = statement(5, ROWS, iban="DE75512108001245126199")  # same lines, another account
    found = statement_issues([march, again, overlap, april, other])
    assert set(found) == {2, 3}
    assert found[2][0].code == DUPLICATE and "document 1 (statement1.pdf)" in found[2][0].message
    assert found[3][0].code == OVERLAP and "2025-03-15 .. 2025-04-14" in found[3][0].message
    assert "1 transaction(s) appear in both" in found[3][0].message

    store = Store.for_workspace(tmp_path)
    for doc in (march, again, overlap, april, other):
        store.save(doc.result)
    assert flag_statements(store) == 2
    assert flag_statements(store) == 0  # idempotent
    assert store.get("march-again.pdf").result.status is Status.NEEDS_REVIEW
    store.close()
