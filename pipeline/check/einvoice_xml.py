"""Structured e-invoice XML -> our invoice fields (raw strings, brought to canonical form by `parse`).

Syntaxes read:
- UN/CEFACT CII D16B (`CrossIndustryInvoice`): Factur-X 1.0 / ZUGFeRD 2.x (all profiles), XRechnung CII;
- ZUGFeRD 1.0 (`CrossIndustryDocument`), same model with older element names;
- OASIS UBL 2.1 `Invoice` and `CreditNote`: XRechnung UBL, Peppol BIS Billing 3.

Elements are found by local name, so namespace prefixes and versions do not matter. The XML
comes from a file we do not control: a document type declaration (the door to entity expansion
attacks) is refused before parsing, and the size is capped. The standard library parser never
fetches external entities.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

MAX_XML_BYTES = 20_000_000
CREDIT_NOTE_CODES = frozenset({"381", "396", "532"})


class EInvoiceXmlError(ValueError):
    pass


@dataclass
class XmlInvoice:
    syntax: str  # "CII" | "ZUGFeRD 1.0" | "UBL"
    profile: str | None
    type_code: str | None
    fields: dict[str, Any] = field(default_factory=dict)


def parse_einvoice_xml(xml: bytes) -> XmlInvoice:
    """The invoice in `xml`; EInvoiceXmlError when it is not a CII/UBL invoice or not safe to read."""
    if len(xml) > MAX_XML_BYTES:
        raise EInvoiceXmlError(f"the XML is larger than {MAX_XML_BYTES // 1_000_000} MB")
    if re.search(rb"<!(DOCTYPE|ENTITY)", xml[:65536], re.IGNORECASE):
        raise EInvoiceXmlError("the XML declares a DOCTYPE or entities, which no e-invoice needs; not read")
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as e:
        raise EInvoiceXmlError(f"the XML is not well-formed: {e}") from e
    _strip_namespaces(root)
    if root.tag == "CrossIndustryInvoice":
        return _cii(root, "CII")
    if root.tag == "CrossIndustryDocument":
        return _cii(root, "ZUGFeRD 1.0")
    if root.tag in ("Invoice", "CreditNote"):
        return _ubl(root)
    raise EInvoiceXmlError(f"the root element {root.tag!r} is not a CII or UBL invoice")


def _strip_namespaces(root: ET.Element) -> None:
    for el in root.iter():
        if isinstance(el.tag, str) and "}" in el.tag:
            el.tag = el.tag.split("}", 1)[1]
        el.attrib = {k.split("}", 1)[-1]: v for k, v in el.attrib.items()}


# --- small path helpers: "A|B/C" = child A or B, then its child C; "//X" = any descendant X --


def _all(el: ET.Element | None, path: str) -> list[ET.Element]:
    if el is None:
        return []
    nodes = [el]
    for step in path.split("/"):
        names = step.split("|")
        nodes = [c for n in nodes for c in n if c.tag in names]
    return nodes


def _one(el: ET.Element | None, path: str) -> ET.Element | None:
    found = _all(el, path)
    return found[0] if found else None


def _text(el: ET.Element | None, path: str = "") -> str | None:
    node = _one(el, path) if path else el
    if node is None or node.text is None:
        return None
    text = node.text.strip()
    return text or None


def _date(el: ET.Element | None, path: str) -> str | None:
    """CII dates are `<DateTimeString format="102">20250303</...>` (102 = YYYYMMDD)."""
    node = _one(el, path)
    if node is None:
        return None
    stamp = _one(node, "DateTimeString")
    raw = _text(stamp if stamp is not None else node)
    if raw and re.fullmatch(r"\d{8}", raw):
        return f"{raw[:4]}-{raw[4:6]}-{raw[6:]}"
    return raw


def _put(out: dict[str, Any], key: str, value: Any) -> None:
    if value not in (None, "", [], {}):
        out[key] = value


# --- CII (Factur-X / ZUGFeRD 2 / XRechnung CII, and ZUGFeRD 1.0) ---------------------------


def _cii(root: ET.Element, syntax: str) -> XmlInvoice:
    doc = _one(root, "ExchangedDocument|HeaderExchangedDocument")
    context = _one(root, "ExchangedDocumentContext|SpecifiedExchangedDocumentContext")
    trade = _one(root, "SupplyChainTradeTransaction|SpecifiedSupplyChainTradeTransaction")
    agreement = _one(trade, "ApplicableHeaderTradeAgreement|ApplicableSupplyChainTradeAgreement")
    settlement = _one(trade, "ApplicableHeaderTradeSettlement|ApplicableSupplyChainTradeSettlement")
    sums = _one(settlement, "SpecifiedTradeSettlementHeaderMonetarySummation|SpecifiedTradeSettlementMonetarySummation")
    currency = _text(settlement, "InvoiceCurrencyCode")
    type_code = _text(doc, "TypeCode")
    out: dict[str, Any] = {}
    _put(out, "document_subtype", "credit_note" if type_code in CREDIT_NOTE_CODES else "invoice")
    _put(out, "invoice_number", _text(doc, "ID"))
    _put(out, "date", _date(doc, "IssueDateTime"))
    _put(out, "currency", currency)
    _party(out, "vendor", _one(agreement, "SellerTradeParty"))
    _party(out, "buyer", _one(agreement, "BuyerTradeParty"))
    _put(out, "buyer_reference", _text(agreement, "BuyerReference"))
    _put(out, "order_number", _text(agreement, "BuyerOrderReferencedDocument/IssuerAssignedID"))
    means = _all(settlement, "SpecifiedTradeSettlementPaymentMeans")
    _put(out, "iban", next((v for m in means if (v := _text(m, "PayeePartyCreditorFinancialAccount/IBANID"))), None))
    bic = next((v for m in means if (v := _text(m, "PayeeSpecifiedCreditorFinancialInstitution/BICID"))), None)
    _put(out, "bic", bic)
    terms = _all(settlement, "SpecifiedTradePaymentTerms")
    _put(out, "due_date", next((d for t in terms if (d := _date(t, "DueDateDateTime"))), None))
    for key, tag in (
        ("line_total_amount", "LineTotalAmount"),
        ("net_amount", "TaxBasisTotalAmount"),
        ("total_amount", "GrandTotalAmount"),
        ("prepaid_amount", "TotalPrepaidAmount"),
        ("amount_due", "DuePayableAmount"),
    ):
        _put(out, key, _text(sums, tag))
    _put(out, "tax_amount", _in_currency(_all(sums, "TaxTotalAmount"), currency))
    breakdown = [_cii_tax(t) for t in _all(settlement, "ApplicableTradeTax")]
    _put(out, "tax_breakdown", [row for row in breakdown if row])
    _put(out, "vat_rate", _single_rate(out.get("tax_breakdown", [])))
    lines = _all(trade, "IncludedSupplyChainTradeLineItem")
    _put(out, "line_items", [item for line in lines if (item := _cii_line(line))])
    profile = _text(context, "GuidelineSpecifiedDocumentContextParameter/ID")
    return XmlInvoice(syntax, profile, type_code, out)


def _in_currency(nodes: list[ET.Element], currency: str | None) -> str | None:
    """A CII total given twice (invoice and accounting currency): the one in the invoice's currency."""
    for node in nodes:
        if currency and node.get("currencyID") == currency:
            return _text(node)
    return _text(nodes[0]) if nodes else None


def _party(out: dict[str, Any], role: str, party: ET.Element | None) -> None:
    if party is None:
        return
    _put(out, f"{role}_name", _text(party, "Name"))
    _put(out, f"{role}_address", _cii_address(_one(party, "PostalTradeAddress")))
    for reg in _all(party, "SpecifiedTaxRegistration/ID"):
        scheme, value = reg.get("schemeID"), _text(reg)
        if scheme == "VA":
            out.setdefault(f"{role}_vat_id", value)
        elif scheme == "FC" and role == "vendor":
            out.setdefault("vendor_tax_number", value)


def _cii_address(addr: ET.Element | None) -> str | None:
    if addr is None:
        return None
    town = " ".join(p for p in (_text(addr, "PostcodeCode"), _text(addr, "CityName")) if p)
    parts = [_text(addr, t) for t in ("LineOne", "LineTwo", "LineThree")] + [town, _text(addr, "CountryID")]
    return ", ".join(p for p in parts if p) or None


def _cii_tax(tax: ET.Element) -> dict[str, Any]:
    row: dict[str, Any] = {}
    _put(row, "category", _text(tax, "CategoryCode"))
    _put(row, "rate", _text(tax, "RateApplicablePercent|ApplicablePercent"))
    _put(row, "basis_amount", _text(tax, "BasisAmount"))
    _put(row, "tax_amount", _text(tax, "CalculatedAmount"))
    return row if "basis_amount" in row or "tax_amount" in row else {}


def _single_rate(rows: list[dict[str, Any]]) -> str | None:
    rates = {r["rate"] for r in rows if r.get("rate") is not None}
    return rates.pop() if len(rates) == 1 else None


def _cii_line(line: ET.Element) -> dict[str, Any]:
    agreement = _one(line, "SpecifiedLineTradeAgreement|SpecifiedSupplyChainTradeAgreement")
    delivery = _one(line, "SpecifiedLineTradeDelivery|SpecifiedSupplyChainTradeDelivery")
    settlement = _one(line, "SpecifiedLineTradeSettlement|SpecifiedSupplyChainTradeSettlement")
    quantity = _one(delivery, "BilledQuantity")
    item: dict[str, Any] = {}
    _put(item, "description", _text(line, "SpecifiedTradeProduct/Name"))
    _put(item, "quantity", _text(quantity))
    _put(item, "unit", quantity.get("unitCode") if quantity is not None else None)
    _put(item, "unit_price", _text(agreement, "NetPriceProductTradePrice/ChargeAmount"))
    _put(item, "tax_rate", _text(settlement, "ApplicableTradeTax/RateApplicablePercent|ApplicablePercent"))
    _put(
        item,
        "amount",
        _text(
            settlement,
            "SpecifiedTradeSettlementLineMonetarySummation|SpecifiedTradeSettlementMonetarySummation/LineTotalAmount",
        ),
    )
    return item


# --- UBL 2.1 (XRechnung UBL, Peppol BIS 3) ---------------------------------------------------


def _ubl(root: ET.Element) -> XmlInvoice:
    credit = root.tag == "CreditNote"
    type_code = _text(root, "CreditNoteTypeCode" if credit else "InvoiceTypeCode")
    currency = _text(root, "DocumentCurrencyCode")
    totals = _one(root, "LegalMonetaryTotal")
    out: dict[str, Any] = {}
    _put(out, "document_subtype", "credit_note" if credit or type_code in CREDIT_NOTE_CODES else "invoice")
    _put(out, "invoice_number", _text(root, "ID"))
    _put(out, "date", _text(root, "IssueDate"))
    _put(out, "due_date", _text(root, "DueDate") or _text(root, "PaymentMeans/PaymentDueDate"))
    _put(out, "currency", currency)
    _ubl_party(out, "vendor", _one(root, "AccountingSupplierParty/Party"))
    _ubl_party(out, "buyer", _one(root, "AccountingCustomerParty/Party"))
    _put(out, "buyer_reference", _text(root, "BuyerReference"))
    _put(out, "order_number", _text(root, "OrderReference/ID"))
    _put(out, "iban", _text(root, "PaymentMeans/PayeeFinancialAccount/ID"))
    _put(out, "bic", _text(root, "PaymentMeans/PayeeFinancialAccount/FinancialInstitutionBranch/ID"))
    for key, tag in (
        ("line_total_amount", "LineExtensionAmount"),
        ("net_amount", "TaxExclusiveAmount"),
        ("total_amount", "TaxInclusiveAmount"),
        ("prepaid_amount", "PrepaidAmount"),
        ("amount_due", "PayableAmount"),
    ):
        _put(out, key, _text(totals, tag))
    tax_totals = _all(root, "TaxTotal")
    _put(out, "tax_amount", _in_currency([t for tt in tax_totals for t in _all(tt, "TaxAmount")], currency))
    rows = []
    for sub in (s for tt in tax_totals for s in _all(tt, "TaxSubtotal")):
        row: dict[str, Any] = {}
        _put(row, "category", _text(sub, "TaxCategory/ID"))
        _put(row, "rate", _text(sub, "TaxCategory/Percent"))
        _put(row, "basis_amount", _text(sub, "TaxableAmount"))
        _put(row, "tax_amount", _text(sub, "TaxAmount"))
        rows.append(row)
    _put(out, "tax_breakdown", rows)
    _put(out, "vat_rate", _single_rate(rows))
    lines = _all(root, "CreditNoteLine" if credit else "InvoiceLine")
    _put(out, "line_items", [item for line in lines if (item := _ubl_line(line, credit))])
    return XmlInvoice("UBL", _text(root, "CustomizationID"), type_code, out)


def _ubl_party(out: dict[str, Any], role: str, party: ET.Element | None) -> None:
    if party is None:
        return
    _put(out, f"{role}_name", _text(party, "PartyLegalEntity/RegistrationName") or _text(party, "PartyName/Name"))
    addr = _one(party, "PostalAddress")
    if addr is not None:
        town = " ".join(p for p in (_text(addr, "PostalZone"), _text(addr, "CityName")) if p)
        parts = [_text(addr, "StreetName"), _text(addr, "AdditionalStreetName"), _text(addr, "AddressLine/Line")]
        parts += [town, _text(addr, "Country/IdentificationCode")]
        _put(out, f"{role}_address", ", ".join(p for p in parts if p))
    for scheme in _all(party, "PartyTaxScheme"):
        value, kind = _text(scheme, "CompanyID"), _text(scheme, "TaxScheme/ID")
        if kind == "VAT":
            out.setdefault(f"{role}_vat_id", value)
        elif role == "vendor":
            out.setdefault("vendor_tax_number", value)


def _ubl_line(line: ET.Element, credit: bool) -> dict[str, Any]:
    quantity = _one(line, "CreditedQuantity" if credit else "InvoicedQuantity")
    item: dict[str, Any] = {}
    _put(item, "description", _text(line, "Item/Name") or _text(line, "Item/Description"))
    _put(item, "quantity", _text(quantity))
    _put(item, "unit", quantity.get("unitCode") if quantity is not None else None)
    _put(item, "unit_price", _text(line, "Price/PriceAmount"))
    _put(item, "tax_rate", _text(line, "Item/ClassifiedTaxCategory/Percent"))
    _put(item, "amount", _text(line, "LineExtensionAmount"))
    return item
