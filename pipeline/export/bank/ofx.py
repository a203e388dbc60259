"""OFX 2.2 (XML) bank and credit-card statement files: one per account and period.

What Quicken, GnuCash, Microsoft Money, QuickBooks (Web Connect) and most bank-feed importers
read. Conventions of the format: dates `YYYYMMDD`; `TRNAMT` signed from the account holder's
side (negative = money out, a card purchase is negative too); `FITID` a stable id per
transaction (sha256 prefix of the statement + line number), so importing the same file twice
adds nothing; `NAME` at most 32 characters, `MEMO` at most 255. A bank account is written as
`BANKACCTFROM` (BANKID: the national bank code in the IBAN; ACCTID: the IBAN where it fits the
22 characters OFX allows, else the account part of it), a card as `CCACCTFROM`. The file's
server time is the period's last day, not the time of export: same documents, same bytes.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from ledgerlens.pipeline.books.bank import BankLine
from ledgerlens.pipeline.export.bank.periods import AccountPeriod, account_periods, bank_folder
from ledgerlens.pipeline.export.writer import write_atomic
from ledgerlens.pipeline.normalize import fold

if TYPE_CHECKING:
    from ledgerlens.pipeline.export.registry import ExportRequest

HEADER = (
    '<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n'
    '<?OFX OFXHEADER="200" VERSION="220" SECURITY="NONE" OLDFILEUID="NONE" NEWFILEUID="NONE"?>\n'
)
_BANK_CODE_LENGTH = {"DE": 8, "AT": 5, "CH": 5, "LI": 5, "NL": 4, "GB": 4, "IE": 4, "FR": 5, "ES": 4, "IT": 6}
# OFX transaction types, from the booking text (folded); otherwise CREDIT or DEBIT by sign.
_TYPES = [
    ("DIRECTDEBIT", re.compile(r"lastschrift|direct debit|prelevement|adeudo|recibo domiciliado")),
    ("ATM", re.compile(r"geldautomat|bargeldauszahlung|\batm\b|cash withdrawal|retrait|cajero")),
    ("POS", re.compile(r"kartenzahlung|card payment|debit card|paiement carte|paiement par carte|compra tarjeta")),
    ("REPEATPMT", re.compile(r"dauerauftrag|standing order|virement permanent|orden permanente")),
    ("FEE", re.compile(r"entgelt|gebuhr|\bfee\b|frais|comision")),
    ("INT", re.compile(r"zinsen|interest|interets|intereses")),
]


def _amount(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01')):f}"


def _day(value: date) -> str:
    return value.strftime("%Y%m%d")


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    el = ET.SubElement(parent, tag)
    if text is not None:
        el.text = text
    return el


def _status(parent: ET.Element) -> None:
    status = _sub(parent, "STATUS")
    _sub(status, "CODE", "0")
    _sub(status, "SEVERITY", "INFO")


def _type(line: BankLine) -> str:
    text = fold(line.description)
    for name, pattern in _TYPES:
        if pattern.search(text):
            return name
    return "CREDIT" if line.amount > 0 else "DEBIT"


def _text(value: str, limit: int) -> str:
    return " ".join(value.split())[:limit]


def _account(parent: ET.Element, acct: AccountPeriod) -> None:
    if acct.card:
        el = _sub(parent, "CCACCTFROM")
        _sub(el, "ACCTID", _text(acct.account_id, 22))
        return
    el = _sub(parent, "BANKACCTFROM")
    iban = acct.iban or ""
    bban = iban[4:]
    code = bban[: _BANK_CODE_LENGTH.get(iban[:2], 4)] if iban else "0"
    _sub(el, "BANKID", code[:9] or "0")
    _sub(el, "ACCTID", iban if 0 < len(iban) <= 22 else (bban or acct.account_id)[-22:])
    _sub(el, "ACCTTYPE", "CHECKING")


def _transaction(parent: ET.Element, acct: AccountPeriod, line: BankLine) -> None:
    el = _sub(parent, "STMTTRN")
    _sub(el, "TRNTYPE", _type(line))
    _sub(el, "DTPOSTED", _day(line.date))
    _sub(el, "TRNAMT", _amount(line.amount))
    _sub(el, "FITID", acct.transaction_id(line))
    name = line.counterparty or _text(line.description, 32)
    if name:
        _sub(el, "NAME", _text(name, 32))
    if line.description:
        _sub(el, "MEMO", _text(line.description, 255))


def ofx_bytes(acct: AccountPeriod) -> bytes:
    root = ET.Element("OFX")
    sonrs = _sub(_sub(root, "SIGNONMSGSRSV1"), "SONRS")
    _status(sonrs)
    _sub(sonrs, "DTSERVER", _day(acct.end) + "000000")
    _sub(sonrs, "LANGUAGE", "ENG")
    prefix = "CC" if acct.card else ""
    msgs = _sub(root, "CREDITCARDMSGSRSV1" if acct.card else "BANKMSGSRSV1")
    trnrs = _sub(msgs, f"{prefix}STMTTRNRS")
    _sub(trnrs, "TRNUID", "0")
    _status(trnrs)
    stmtrs = _sub(trnrs, f"{prefix}STMTRS")
    _sub(stmtrs, "CURDEF", acct.currency)
    _account(stmtrs, acct)
    tranlist = _sub(stmtrs, "BANKTRANLIST")
    _sub(tranlist, "DTSTART", _day(acct.start))
    _sub(tranlist, "DTEND", _day(acct.end))
    for line in acct.lines:
        _transaction(tranlist, acct, line)
    ledger = _sub(stmtrs, "LEDGERBAL")
    _sub(ledger, "BALAMT", _amount(acct.closing))
    _sub(ledger, "DTASOF", _day(acct.end))
    ET.indent(root, space=" ")
    return HEADER.encode() + ET.tostring(root, encoding="utf-8") + b"\n"


def write(request: ExportRequest) -> list[Path]:
    folder = bank_folder(request)
    return [
        write_atomic(folder / acct.file_name("ofx"), ofx_bytes(acct))
        for acct in account_periods(request.docs, request.period).accounts
    ]
