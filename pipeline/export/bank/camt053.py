"""ISO 20022 camt.053.001.02 (Bank-to-Customer Statement): one XML file per account and period.

The version the German and Austrian banks (DK/DFÜ agreement), DATEV, Odoo and most ERP statement
imports read. Conventions of the format: amounts unsigned (`Amt` with its currency) and a side
(`CdtDbtInd` CRDT or DBIT); dates ISO (`BookgDt`, balances `OPBD` opening booked and `CLBD`
closing booked); the account by `IBAN` or by another id; every entry booked (`Sts` BOOK) with a
bank transaction code (`BkTxCd`, ISO domain PMNT: received or issued credit transfers, direct
debits, card payments) and the booking text as unstructured remittance (`Ustrd`, 140 characters
each). Each entry's `AcctSvcrRef` is the stable transaction id. The creation time is the
period's last day, not the time of export: same documents, same bytes.
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

NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"
# (family, sub-family) in the PMNT domain, from the booking text (folded); else credit transfers.
_FAMILIES = [
    (re.compile(r"lastschrift|direct debit|prelevement|adeudo|recibo"), ("IDDT", "ESDD")),
    (re.compile(r"kartenzahlung|card payment|debit card|paiement carte|compra tarjeta"), ("CCRD", "POSD")),
    (re.compile(r"geldautomat|bargeldauszahlung|\batm\b|cash withdrawal|retrait|cajero"), ("CCRD", "CWDL")),
]


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, tag, attrs)
    if text is not None:
        el.text = text
    return el


def _amount(parent: ET.Element, value: Decimal, currency: str) -> None:
    _sub(parent, "Amt", f"{abs(value).quantize(Decimal('0.01')):f}", Ccy=currency)
    _sub(parent, "CdtDbtInd", "DBIT" if value < 0 else "CRDT")


def _date(parent: ET.Element, tag: str, day: date) -> None:
    _sub(_sub(parent, tag), "Dt", day.isoformat())


def _text(value: str, limit: int) -> str:
    return " ".join(value.split())[:limit]


def _account(parent: ET.Element, acct: AccountPeriod) -> None:
    el = _sub(parent, "Acct")
    ident = _sub(el, "Id")
    if acct.iban:
        _sub(ident, "IBAN", acct.iban)
    else:
        _sub(_sub(ident, "Othr"), "Id", _text(acct.account_id, 34))
    _sub(el, "Ccy", acct.currency)
    if acct.holder:
        _sub(_sub(el, "Ownr"), "Nm", _text(acct.holder, 70))
    if acct.bank_name:
        _sub(_sub(_sub(el, "Svcr"), "FinInstnId"), "Nm", _text(acct.bank_name, 70))


def _balance(parent: ET.Element, code: str, value: Decimal, currency: str, day: date) -> None:
    bal = _sub(parent, "Bal")
    _sub(_sub(_sub(bal, "Tp"), "CdOrPrtry"), "Cd", code)
    _amount(bal, value, currency)
    _date(bal, "Dt", day)


def _family(line: BankLine) -> tuple[str, str]:
    text = fold(line.description)
    for pattern, family in _FAMILIES:
        if pattern.search(text):
            return family
    return ("RCDT", "ESCT") if line.amount > 0 else ("ICDT", "ESCT")


def _entry(parent: ET.Element, acct: AccountPeriod, line: BankLine) -> None:
    ntry = _sub(parent, "Ntry")
    _amount(ntry, line.amount, acct.currency)
    _sub(ntry, "Sts", "BOOK")
    _date(ntry, "BookgDt", line.date)
    _date(ntry, "ValDt", line.date)
    _sub(ntry, "AcctSvcrRef", acct.transaction_id(line))
    domain = _sub(_sub(ntry, "BkTxCd"), "Domn")
    _sub(domain, "Cd", "PMNT")
    family, sub = _family(line)
    fmly = _sub(domain, "Fmly")
    _sub(fmly, "Cd", family)
    _sub(fmly, "SubFmlyCd", sub)
    details = _sub(_sub(ntry, "NtryDtls"), "TxDtls")
    name, ibans = line.counterparty, line.counterparty_ibans
    if name or ibans:
        parties = _sub(details, "RltdPties")
        role = "Dbtr" if line.amount > 0 else "Cdtr"
        if name:
            _sub(_sub(parties, role), "Nm", _text(name, 70))
        if ibans:
            _sub(_sub(_sub(parties, f"{role}Acct"), "Id"), "IBAN", ibans[0])
    text = " ".join(line.description.split())
    if text:
        info = _sub(details, "RmtInf")
        for i in range(0, min(len(text), 140 * 4), 140):
            _sub(info, "Ustrd", text[i : i + 140])
        _sub(ntry, "AddtlNtryInf", text[:500])


def camt053_bytes(acct: AccountPeriod) -> bytes:
    ET.register_namespace("", NAMESPACE)
    root = ET.Element(f"{{{NAMESPACE}}}Document")
    stmt_root = ET.SubElement(root, "BkToCstmrStmt")
    created = f"{acct.end.isoformat()}T23:59:59"
    ident = f"LL-{acct.account_id}-{acct.start:%Y%m%d}-{acct.end:%Y%m%d}"[:35]
    header = _sub(stmt_root, "GrpHdr")
    _sub(header, "MsgId", ident)
    _sub(header, "CreDtTm", created)
    stmt = _sub(stmt_root, "Stmt")
    _sub(stmt, "Id", ident)
    _sub(stmt, "CreDtTm", created)
    period = _sub(stmt, "FrToDt")
    _sub(period, "FrDtTm", f"{acct.start.isoformat()}T00:00:00")
    _sub(period, "ToDtTm", created)
    _account(stmt, acct)
    _balance(stmt, "OPBD", acct.opening, acct.currency, acct.start)
    _balance(stmt, "CLBD", acct.closing, acct.currency, acct.end)
    for line in acct.lines:
        _entry(stmt, acct, line)
    # Children of the default namespace: qualify them all (ElementTree writes what it is given).
    for el in root.iter():
        if not el.tag.startswith("{"):
            el.tag = f"{{{NAMESPACE}}}{el.tag}"
    ET.indent(root, space=" ")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8") + b"\n"


def write(request: ExportRequest) -> list[Path]:
    folder = bank_folder(request)
    return [
        write_atomic(folder / acct.file_name("xml", "_camt053"), camt053_bytes(acct))
        for acct in account_periods(request.docs, request.period).accounts
    ]
