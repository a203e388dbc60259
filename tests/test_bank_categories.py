"""Categorizing bank lines: accounts.toml rules in order, known vendors, suspense with a suggestion
on the Review sheet, and a reviewer's correction becoming a rule the next run uses."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
from bank_docs import VENDOR_IBAN, invoice, statement
from ledgerlens.pipeline.books.review import Correction, apply_corrections
from ledgerlens.pipeline.books.store import Store
from ledgerlens.pipeline.doctypes.schemas import load_schemas
from ledgerlens.pipeline.errors import ConfigError
from ledgerlens.pipeline.export.accounts import parse_accounts
from ledgerlens.pipeline.export.bank.categorize import CODE, categorize_all, review_findings, with_learned
from ledgerlens.pipeline.export.columns import load_layout
from ledgerlens.pipeline.export.xlsx import review_table

ACCOUNTS = parse_accounts(
    {
        "accounts": {"suspense": "9999"},
        "vendors": {"Acme Supplies GmbH": {"account": "4930"}},
        "bank": {
            "account": "1200",
            "rules": [
                {"counterparty": "Stadtwerke", "account": "4240", "label": "Energy", "tax_code": "VST19"},
                {"description": r"miete\b", "max_amount": "-500", "account": "4210"},
                {"description": "miete", "account": "4211"},  # a small "Miete" (a parking space)
                {"iban": "DE75 5121 0800 1245 1261 99", "account": "3100"},
            ],
        },
    }
)
ROWS = [
    ("2025-03-01", "Dauerauftrag Miete Goethestraße 8", "-880.00"),
    ("2025-03-02", "Dauerauftrag Miete Stellplatz", "-45.00"),
    ("2025-03-03", "Lastschrift STADTWERKE Elbaue Strom", "-96.10"),
    ("2025-03-04", "Überweisung an Acme Supplies GmbH RE-77", "-10.00"),
    ("2025-03-05", "Gutschrift Müller IBAN DE75512108001245126199", "250.00"),
    ("2025-03-06", "Kartenzahlung Tankstelle Am Ring", "-60.00"),
    ("2025-03-20", "Kartenzahlung Tankstelle Am Ring Leipzig", "-55.00"),
]


def test_rules_in_order_then_known_vendors_then_suspense() -> None:
    docs = [statement(1, ROWS), invoice(2, "RE-77", "ACME Supplies", "10.00", "2025-02-20")]
    cats = categorize_all(docs, ACCOUNTS)
    got = [(cats[(1, i)].account, cats[(1, i)].how) for i in range(len(ROWS))]
    assert got == [
        ("4210", "rule"), ("4211", "rule"), ("4240", "rule"), ("4930", "vendor"), ("3100", "rule"),
        ("9999", "suspense"), ("9999", "suspense"),
    ]  # fmt: skip
    assert cats[(1, 2)].label == "Energy" and cats[(1, 2)].tax_code == "VST19"
    assert cats[(1, 0)].source.endswith("[[bank.rules]] #2") and "vendor Acme Supplies GmbH" in cats[(1, 3)].source


def test_suspense_lines_go_to_review_with_a_suggestion_from_a_similar_earlier_line() -> None:
    before = statement(1, [("2025-02-06", "Kartenzahlung Tankstelle Am Ring", "-61.00")], start="2025-02-01",
                       end="2025-02-28")  # fmt: skip
    before.result.data["transactions"][0]["account"] = "4530"  # a reviewer booked it to vehicle costs
    docs = [before, statement(2, ROWS)]
    findings = review_findings(docs, ACCOUNTS)
    assert 1 not in findings
    fields = {f[0]: f for f in findings[2]}
    # Acme is no known vendor here (no invoice of it in the store): its line is left over too.
    assert set(fields) == {"transactions[3].account", "transactions[5].account", "transactions[6].account"}
    assert fields["transactions[5].account"][2] == CODE
    assert (
        "suggestion: 4530, like 'Kartenzahlung Tankstelle Am Ring' on 2025-02-06"
        in fields["transactions[5].account"][3]
    )
    rows = review_table(docs, load_layout(), 0.5, ACCOUNTS).rows
    review = [[v.data for v in r.values] for r in rows if r.values[7].data == CODE]
    assert [r[4] for r in review] == ["transactions[3].account", "transactions[5].account", "transactions[6].account"]


def test_a_corrected_account_becomes_a_rule_for_the_next_run(tmp_path: Path) -> None:
    store = Store.for_workspace(tmp_path)
    march = statement(1, ROWS)
    april = statement(2, [("2025-04-07", "Kartenzahlung TANKSTELLE AM RING 0412", "-70.00")], start="2025-04-01",
                      end="2025-04-30")  # fmt: skip
    ids = [store.save(d.result) for d in (march, april)]
    docs = store.all()
    assert categorize_all(docs, with_learned(ACCOUNTS, store))[(ids[1], 0)].how == "suspense"
    fix = Correction(row=7, doc_id=ids[0], field="transactions[5].account", value="4530", status="corrected")
    report = apply_corrections(store, [fix], load_schemas(), user="ana", workspace_root=tmp_path, source="ledger.xlsx")
    assert report.applied == [fix] and not report.rejected
    docs = store.all()
    cats = categorize_all(docs, with_learned(ACCOUNTS, store))
    assert cats[(ids[0], 5)].how == "reviewer"
    learned = cats[(ids[1], 0)]
    assert (learned.account, learned.how) == ("4530", "learned") and "ana" in learned.source
    assert cats[(ids[0], 6)].account == "4530"  # the other line of the same counterparty too
    store.close()


def test_learned_iban_rule_and_amount_bounds() -> None:
    rows = [("2025-03-05", f"Gutschrift IBAN {VENDOR_IBAN}", "12.00")]
    bank = parse_accounts({"bank": {"rules": [{"iban": VENDOR_IBAN, "min_amount": "100", "account": "8400"}]}})
    assert categorize_all([statement(1, rows)], bank)[(1, 0)].how == "suspense"  # 12.00 is under min_amount
    assert Decimal("12.00") < bank.bank.rules[0].min_amount


@pytest.mark.parametrize(
    ("bank", "message"),
    [
        ({"rulez": []}, "unknown key(s) rulez"),
        ({"rules": [{"account": "4000"}]}, "needs a condition"),
        ({"rules": [{"counterparty": "x"}]}, "needs an account"),
        ({"rules": [{"description": "(", "account": "1"}]}, "not a regular expression"),
        ({"rules": [{"min_amount": 1.5, "account": "1"}]}, "must be an amount"),
        ({"rules": [{"counterparty": "x", "account": "1", "colour": "red"}]}, "unknown key(s) colour"),
        ({"quickbooks_columns": 5}, "must be 3 or 4"),
    ],
)
def test_bank_section_errors_are_config_errors(bank: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_accounts({"bank": bank})
