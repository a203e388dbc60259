"""Each accounting target's import rules: files that pass them (golden files), one refused row per
rule, what the export does with refused rows, `init --chart`, and the demo samples.

Golden files are in tests/fixtures/accounting/checked/ and never write themselves (see
test_accounting.py)."""

from __future__ import annotations

import csv
import io
import tomllib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from ledgerlens.pipeline.books.store import StoredDocument
from ledgerlens.pipeline.export import datev_rules, quickbooks_rules, xero_rules
from ledgerlens.pipeline.export.accounts import AccountMap, parse_accounts
from ledgerlens.pipeline.export.bills import quickbooks_files, xero_files
from ledgerlens.pipeline.export.chart import starter_text
from ledgerlens.pipeline.export.datev import datev_built
from ledgerlens.pipeline.export.rules import Built, Refusal
from test_accounting import _doc, _golden, documents

CHECKED = Path(__file__).parent / "fixtures" / "accounting" / "checked"
VENDORS = """
[vendors."Acme Supplies GmbH"]
account = "{account}"
contact = "Acme Supplies GmbH"
"""


def chart(name: str, extra: str = "", account: str = "") -> AccountMap:
    """The starter chart `name` as accounts.toml, with `extra` TOML appended (vendors, rates)."""
    text = starter_text(name) + extra + (VENDORS.format(account=account) if account else "")
    return parse_accounts(tomllib.loads(text), name)


def checked_documents() -> list[StoredDocument]:
    """test_accounting's documents plus a USD invoice from a US vendor with a delivery date."""
    usd = {
        "invoice_number": "US-77", "date": "2026-10-06", "due_date": "2026-11-05", "delivery_date": "2026-10-01",
        "vendor_name": "Globex Inc", "currency": "USD", "net_amount": "200.00", "tax_amount": "0.00",
        "total_amount": "200.00", "vat_rate": "0",
    }  # fmt: skip
    return [*documents(), _doc(9, "invoice", usd, name="globex-77.pdf")]


RATES = '\nUSD = "1.0850"\n'  # appended under the starter chart's [exchange_rates], its last table
TARGETS: dict[str, tuple[Callable[[], AccountMap], Callable[..., list[Built]], Callable[..., list[Refusal]]]] = {
    "datev": (lambda: chart("skr03", RATES, "4930"), datev_built, datev_rules.check_built),
    "xero": (lambda: chart("xero-uk", "", "453"), xero_files, xero_rules.check_built),
    "quickbooks_us": (
        lambda: chart("quickbooks-us", "", "Office Supplies & Software"), quickbooks_files, quickbooks_rules.check_built
    ),
    "quickbooks_intl": (lambda: chart("quickbooks-uk", "", "Office expenses"), quickbooks_files,
                        quickbooks_rules.check_built),
}  # fmt: skip


# --- golden files that pass -----------------------------------------------------------------------


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_golden_files_of_a_fixed_store_pass_their_target(target: str, tmp_path: Path) -> None:
    accounts, build, check = TARGETS[target]
    files = build(checked_documents(), accounts())
    assert check(files, accounts()) == []
    (tmp_path / "checked").mkdir()
    for built in files:
        _golden(f"checked/{target}_{built.name}", built.data(), tmp_path)


def test_datev_writes_all_125_columns_the_skr_the_delivery_date_and_the_rate() -> None:
    accounts = chart("skr03", RATES, "4930")
    built = {b.name: b for b in datev_built(checked_documents(), accounts)}["EXTF_Buchungsstapel_20261003_20261008.csv"]
    lines = built.lines("\r\n")
    header = datev_rules.raw_fields(lines[0])
    assert len(header) == 31 and header[26] == '"03"' and header[21] == '"EUR"'
    rows = [dict(zip(lines[1].split(";"), datev_rules.raw_fields(line), strict=True)) for line in lines[2:]]
    assert all(len(r) == 125 for r in rows)
    usd = next(r for r in rows if r["Belegfeld 1"] == '"US-77"')
    assert (usd["WKZ Umsatz"], usd["Kurs"], usd["Basis-Umsatz"], usd["WKZ Basis-Umsatz"]) == (
        '"USD"', "1,085000", "184,33", '"EUR"'
    )  # fmt: skip
    assert (usd["Leistungsdatum"], usd["Fälligkeit"], usd["Beleginfo - Inhalt 1"]) == (
        "01102026", "05112026", '"done/globex-77.pdf"'
    )  # fmt: skip
    attack = next(r for r in rows if r["Belegfeld 1"] == '"cmd/CcalcA0"')  # DATEV's characters only
    assert attack["Beleginfo - Inhalt 3"] == "\"'+cmd|' /C calc'!A0\""  # the number as printed, escaped
    acme = [r for r in rows if r["Belegfeld 1"] == '"RE-2026-101"']
    # Input tax by rate from the chart: 19 % to 1576, 7 % to 1571, each against the payable.
    assert [(r["Konto"], r["Umsatz (ohne Soll/Haben-Kz)"]) for r in acme] == [
        ("4930", "100,00"), ("4930", "50,00"), ("1576", "19,00"), ("1571", "3,50")
    ]  # fmt: skip


def test_datev_splits_by_fiscal_year_and_each_file_passes() -> None:
    accounts = replace(chart("skr03"), datev=replace(chart("skr03").datev, fiscal_year_start_month=7))
    data = {"invoice_number": "A1", "vendor_name": "Acme Supplies GmbH", "currency": "EUR", "total_amount": "11.90",
            "tax_amount": "1.90", "vat_rate": "19"}  # fmt: skip
    docs = [_doc(1, "invoice", {**data, "date": "2026-06-30"}), _doc(2, "invoice", {**data, "date": "2026-07-01"})]
    files = datev_built(docs, accounts)
    starts = [datev_rules.raw_fields(b.lines("\r\n")[0])[12] for b in files]
    assert [b.name for b in files] == [
        "EXTF_Buchungsstapel_20260630_20260630.csv", "EXTF_Buchungsstapel_20260701_20260701.csv"
    ] and starts == ["20250701", "20260701"]  # fmt: skip
    assert datev_rules.check_built(files, accounts) == []


def test_quickbooks_variants_differ_in_vendor_column_dates_and_tax_codes() -> None:
    us = _rows(quickbooks_files(checked_documents(), chart("quickbooks-us"))[0])
    intl = _rows(quickbooks_files(checked_documents(), chart("quickbooks-uk"))[0])
    assert "Vendor" in us[0] and "Line Tax Code" not in us[0]
    assert "Supplier" in intl[0] and "Line Tax Code" in intl[0]
    assert us[1][2] == "10/03/2026" and intl[1][2] == "03/10/2026"
    # A supplier in Germany (EUR, no UK VAT id) is abroad for a UK company: No VAT.
    assert {r[intl[0].index("Line Tax Code")] for r in intl[1:]} == {"No VAT"}


def test_xero_tax_rates_by_rate_and_country() -> None:
    accounts = chart("xero-uk")
    gb = {"invoice_number": "7", "date": "2026-10-01", "vendor_name": "Brit Ltd", "vendor_vat_id": "GB123456789",
          "currency": "GBP", "total_amount": "141.00", "tax_amount": "21.00", "tax_breakdown": [
              {"rate": "20", "basis_amount": "100.00", "tax_amount": "20.00"},
              {"rate": "5", "basis_amount": "20.00", "tax_amount": "1.00"}]}  # fmt: skip
    de = {**gb, "invoice_number": "8", "vendor_name": "Deutsche GmbH", "vendor_vat_id": "DE136695976"}
    rows = _rows(xero_files([_doc(1, "invoice", gb), _doc(2, "invoice", de)], accounts)[0])
    tax = rows[0].index("*TaxType")
    assert [r[tax] for r in rows[1:]] == ["20% (VAT on Expenses)", "5% (VAT on Expenses)", "No VAT", "No VAT"]


def _rows(built: Built) -> list[list[str]]:
    return list(csv.reader(io.StringIO(built.text, newline="")))


# --- one refused row per rule ---------------------------------------------------------------------


def _csv_set(built: Built, line: int, column: str, value: str) -> Built:
    rows = _rows(built)
    rows[line - 1][rows[0].index(column)] = value
    buf = io.StringIO(newline="")
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    return replace(built, text=buf.getvalue())


def _datev_set(built: Built, line: int, column: str, value: str) -> Built:
    lines = built.lines("\r\n")
    fields = datev_rules.raw_fields(lines[line - 1])
    fields[lines[1].split(";").index(column)] = value
    lines[line - 1] = ";".join(fields)
    return replace(built, text="\r\n".join(lines) + "\r\n")


def _with(data: dict, **changes: object) -> list[StoredDocument]:
    return [_doc(1, "invoice", {**data, **changes}, name="case.pdf")]


BILL = {
    "invoice_number": "RE-1", "date": "2026-10-03", "due_date": "2026-11-02", "vendor_name": "Acme Supplies GmbH",
    "currency": "EUR", "net_amount": "100.00", "tax_amount": "19.00", "total_amount": "119.00", "vat_rate": "19",
}  # fmt: skip
GB_BILL = {**BILL, "currency": "GBP", "vendor_name": "Brit Ltd", "vendor_vat_id": "GB123456789", "vat_rate": "20",
           "tax_amount": "20.00", "total_amount": "120.00"}  # fmt: skip


def _many(n: int) -> list[StoredDocument]:
    base = _doc(1, "invoice", BILL)
    return [
        replace(base, id=i, result=replace(base.result, sha256=f"{i:064x}", data={**BILL, "invoice_number": f"N{i}"}))
        for i in range(1, n + 1)
    ]


MANY = _many(1001)
Case = Callable[[], tuple[list[Built], AccountMap]]


def _merged(files: list[Built]) -> list[Built]:
    head = files[0].lines("\r\n")[:1]
    body = [line for b in files for line in b.lines("\r\n")[1:]]
    docs = [None, *(d for b in files for d in b.docs[1:])]
    return [Built(files[0].name, "\r\n".join(head + body) + "\r\n", files[0].encoding, docs)]


def _xero(docs: list[StoredDocument], accounts: AccountMap | None = None, edit=None) -> tuple[list[Built], AccountMap]:
    accounts = accounts or chart("xero-uk")
    files = xero_files(docs, accounts)
    return ([edit(files[0])] if edit else files), accounts


def _qb(docs: list[StoredDocument], accounts: AccountMap | None = None, edit=None) -> tuple[list[Built], AccountMap]:
    accounts = accounts or chart("quickbooks-uk")
    files = quickbooks_files(docs, accounts)
    return ([edit(files[0])] if edit else files), accounts


def _datev(docs: list[StoredDocument], accounts: AccountMap | None = None, edit=None) -> tuple[list[Built], AccountMap]:
    accounts = accounts or chart("skr03", RATES)
    files = datev_built(docs, accounts)
    return ([edit(files[0])] if edit else files), accounts


def _text(built: Built, old: str, new: str) -> Built:
    return replace(built, text=built.text.replace(old, new, 1))


def _datev_settings(**changes: object) -> AccountMap:
    accounts = chart("skr03")
    return replace(accounts, datev=replace(accounts.datev, **changes))


ONE = _with(BILL)
LONG = "x" * 4001
CASES: dict[str, Case] = {
    "xero.header": lambda: _xero(ONE, edit=lambda b: replace(b, text=b.text.replace("*ContactName", "Contact", 1))),
    "xero.line_endings": lambda: _xero(ONE, edit=lambda b: replace(b, text=b.text.replace("\r\n", "\n", 1))),
    "xero.encoding": lambda: _xero(_with(BILL, vendor_name="Acme \udcff")),
    "xero.required": lambda: _xero(_with(GB_BILL, vat_rate="13", tax_amount="13.00", total_amount="113.00")),
    "xero.date": lambda: _xero(_with(BILL, due_date="31/11/2026")),
    "xero.number": lambda: _xero(ONE, edit=lambda b: _csv_set(b, 2, "*Quantity", "1,5")),
    "xero.account_code": lambda: _xero(ONE, chart("xero-uk", account="4930-01-X")),
    "xero.account_known": lambda: _xero(ONE, edit=lambda b: _csv_set(b, 2, "*AccountCode", "777")),
    "xero.tax_type": lambda: _xero(ONE, edit=lambda b: _csv_set(b, 2, "*TaxType", "Standard")),
    "xero.length": lambda: _xero(_with(BILL, vendor_name="A" * 256)),
    "xero.currency": lambda: _xero(_with(BILL, currency="EURO")),
    "xero.invoice_unique": lambda: _xero([_doc(1, "invoice", BILL), _doc(2, "invoice", BILL)]),
    "xero.invoices_per_file": lambda: (_merged(xero_files(MANY[:501], chart("xero-uk"))), chart("xero-uk")),
    "quickbooks.header": lambda: (quickbooks_files(ONE, chart("quickbooks-us")), chart("quickbooks-uk")),
    "quickbooks.line_endings": lambda: _qb(ONE, edit=lambda b: replace(b, text=b.text.replace("\r\n", "\r", 1))),
    "quickbooks.required": lambda: _qb(_with(BILL, invoice_number="")),
    "quickbooks.date": lambda: _qb(ONE, replace(chart("quickbooks-us"), quickbooks_date="%Y-%m-%d")),
    "quickbooks.amount": lambda: _qb(ONE, edit=lambda b: _csv_set(b, 2, "Line Amount", "100,00")),
    "quickbooks.bill_no": lambda: _qb(_with(BILL, invoice_number="RE-2026-000000000000001")),
    "quickbooks.length": lambda: _qb(_with(BILL, line_items=[{"description": LONG, "amount": "100.00"}])),
    "quickbooks.account_known": lambda: _qb(ONE, AccountMap(quickbooks="intl")),
    "quickbooks.tax_code": lambda: _qb(_with(GB_BILL, vat_rate="13", tax_amount="13.00", total_amount="113.00")),
    "quickbooks.currency": lambda: _qb(_with(BILL, currency="EURO")),
    "quickbooks.rows_per_file": lambda: _qb([], chart("quickbooks-us"), edit=lambda _: _merged(
        quickbooks_files(MANY, chart("quickbooks-us")))[0]),
    "datev.line_endings": lambda: _datev(ONE, edit=lambda b: replace(b, text=b.text.replace("\r\n", "\n", 1))),
    "datev.charset": lambda: _datev(_with(BILL, vendor_name="北京贸易有限公司")),
    "datev.header": lambda: _datev(ONE, _datev_settings(consultant_number=999)),
    "datev.skr": lambda: _datev(ONE, AccountMap()),
    "datev.period": lambda: _datev(ONE, edit=lambda b: _text(b, ";20261003;20261003;", ";20261003;20271003;")),
    "datev.columns": lambda: _datev(ONE, edit=lambda b: _text(b, "Belegfeld 2", "Belegfeld Zwei")),
    "datev.fields": lambda: _datev(ONE, edit=lambda b: replace(b, text=b.text.replace(";;\r\n", ";\r\n", 1))),
    "datev.umsatz": lambda: _datev(_with(BILL, total_amount="0.00", tax_amount="0.00", net_amount="0.00")),
    "datev.side": lambda: _datev(ONE, edit=lambda b: _datev_set(b, 3, "Soll/Haben-Kennzeichen", '"X"')),
    "datev.currency": lambda: _datev(_with(BILL, currency="CHF")),
    "datev.account": lambda: _datev(ONE, chart("skr03", account="123456789")),
    "datev.account_known": lambda: _datev(ONE, edit=lambda b: _datev_set(b, 3, "Konto", "8888")),
    "datev.bu_key": lambda: _datev(ONE, chart("skr03", VENDORS.format(account="4930") + 'datev_tax_key = "12345"\n')),
    "datev.belegdatum": lambda: _datev(ONE, edit=lambda b: _datev_set(b, 3, "Belegdatum", "3102")),
    "datev.belegfeld": lambda: _datev(ONE, edit=lambda b: _datev_set(b, 3, "Belegfeld 1", '"RE 2026"')),
    "datev.text": lambda: _datev(ONE, edit=lambda b: _datev_set(b, 3, "Buchungstext", '"' + "x" * 61 + '"')),
    "datev.date": lambda: _datev(_with(BILL, delivery_date="2026-02-30")),
}  # fmt: skip
CHECKS = {"xero": xero_rules.check_built, "quickbooks": quickbooks_rules.check_built, "datev": datev_rules.check_built}


@pytest.mark.parametrize("rule", sorted(CASES))
def test_a_row_that_breaks_a_rule_is_refused_naming_it(rule: str) -> None:
    files, accounts = CASES[rule]()
    refused = CHECKS[rule.partition(".")[0]](files, accounts)
    assert rule in {r.rule for r in refused}, [str(r) for r in refused]
    hit = next(r for r in refused if r.rule == rule)
    assert f"[{rule}]" in str(hit) and hit.reason


def test_every_rule_of_every_target_has_a_failing_case() -> None:
    rules = set(xero_rules.RULES) | set(quickbooks_rules.RULES) | set(datev_rules.RULES)
    assert rules == set(CASES)
    assert all(r.source and r.says for m in (xero_rules, quickbooks_rules, datev_rules) for r in m.RULES.values())


def test_files_are_split_at_the_importers_limits_and_each_part_passes() -> None:
    xero = xero_files(MANY[:501], chart("xero-uk"))
    assert [b.name for b in xero] == ["xero_bills.csv", "xero_bills_part2.csv"]
    assert xero_rules.check_built(xero, chart("xero-uk")) == []
    qb = quickbooks_files(MANY, chart("quickbooks-us"))
    assert [len(b.lines("\r\n")) - 1 for b in qb] == [1000, 1]
    assert quickbooks_rules.check_built(qb, chart("quickbooks-us")) == []
