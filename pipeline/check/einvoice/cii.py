"""UN/CEFACT CII D16B (`CrossIndustryInvoice`: Factur-X / ZUGFeRD 2.x, XRechnung CII) and ZUGFeRD 1.0
(`CrossIndustryDocument`, the same model with older element names) -> our invoice fields.

Paths list the D16B name first and the ZUGFeRD 1.0 name after `|`. The fields are those of
`ubl.py`, business term by business term.
"""

from __future__ import annotations

from typing import Any

from ledgerlens.pipeline.check.einvoice.model import XmlInvoice, subtype_of
from ledgerlens.pipeline.check.einvoice.tree import (
    Element,
    attribute,
    date,
    find,
    find_all,
    in_currency,
    joined,
    local,
    put,
    text,
    texts,
)
from ledgerlens.pipeline.check.einvoice.ubl import electronic_address, single_rate

TOTALS = (
    ("line_total_amount", "LineTotalAmount"),  # BT-106
    ("allowance_total_amount", "AllowanceTotalAmount"),  # BT-107
    ("charge_total_amount", "ChargeTotalAmount"),  # BT-108
    ("net_amount", "TaxBasisTotalAmount"),  # BT-109
    ("total_amount", "GrandTotalAmount"),  # BT-112
    ("prepaid_amount", "TotalPrepaidAmount"),  # BT-113
    ("rounding_amount", "RoundingAmount"),  # BT-114
    ("amount_due", "DuePayableAmount"),  # BT-115
)
AGREEMENT = "ApplicableHeaderTradeAgreement|ApplicableSupplyChainTradeAgreement"
DELIVERY = "ApplicableHeaderTradeDelivery|ApplicableSupplyChainTradeDelivery"
SETTLEMENT = "ApplicableHeaderTradeSettlement|ApplicableSupplyChainTradeSettlement"
SUMS = "SpecifiedTradeSettlementHeaderMonetarySummation|SpecifiedTradeSettlementMonetarySummation"
RATE = "RateApplicablePercent|ApplicablePercent"


def read_cii(root: Element, syntax: str) -> XmlInvoice:
    doc = find(root, "ExchangedDocument|HeaderExchangedDocument")
    context = find(root, "ExchangedDocumentContext|SpecifiedExchangedDocumentContext")
    trade = find(root, "SupplyChainTradeTransaction|SpecifiedSupplyChainTradeTransaction")
    agreement, settlement = find(trade, AGREEMENT), find(trade, SETTLEMENT)
    seller, buyer = find(agreement, "SellerTradeParty"), find(agreement, "BuyerTradeParty")
    currency = text(settlement, "InvoiceCurrencyCode")
    type_code = text(doc, "TypeCode")
    out: dict[str, Any] = {}
    put(out, "document_subtype", subtype_of(type_code))
    put(out, "document_type_code", type_code)
    put(out, "invoice_number", text(doc, "ID"))
    put(out, "date", date(doc, "IssueDateTime"))
    put(out, "currency", currency)
    _party(out, "vendor", seller)
    _party(out, "buyer", buyer)
    put(out, "buyer_reference", text(agreement, "BuyerReference"))
    put(out, "order_number", text(agreement, "BuyerOrderReferencedDocument/IssuerAssignedID"))
    put(out, "contract_reference", text(agreement, "ContractReferencedDocument/IssuerAssignedID"))
    put(out, "preceding_invoice_number", text(settlement, "InvoiceReferencedDocument/IssuerAssignedID"))
    put(out, "delivery_date", date(find(trade, DELIVERY), "ActualDeliverySupplyChainEvent/OccurrenceDateTime"))
    put(out, "billing_period_start", date(settlement, "BillingSpecifiedPeriod/StartDateTime"))
    put(out, "billing_period_end", date(settlement, "BillingSpecifiedPeriod/EndDateTime"))
    _payment(out, settlement)
    sums = find(settlement, SUMS)
    for key, tag in TOTALS:
        put(out, key, text(sums, tag))
    put(out, "tax_amount", in_currency(find_all(sums, "TaxTotalAmount"), currency))
    breakdown = [_tax_row(t) for t in find_all(settlement, "ApplicableTradeTax")]
    put(out, "tax_breakdown", [row for row in breakdown if row])
    put(out, "vat_rate", single_rate(out.get("tax_breakdown", [])))
    charges = find_all(settlement, "SpecifiedTradeAllowanceCharge")
    put(out, "allowances_charges", [_allowance_charge(ac) for ac in charges])
    lines = [(line, item) for line in find_all(trade, "IncludedSupplyChainTradeLineItem") if (item := _line(line))]
    put(out, "line_items", [item for _, item in lines])
    return XmlInvoice(
        syntax=syntax,
        root=local(root),
        customization_id=text(context, "GuidelineSpecifiedDocumentContextParameter/ID"),
        business_process=text(context, "BusinessProcessSpecifiedDocumentContextParameter/ID"),
        type_code=type_code,
        fields=out,
        notes=texts(doc, "IncludedNote/Content"),
        line_roles=[_role(line) for line, _ in lines],
        seller_address=find(seller, "PostalTradeAddress") is not None,
        buyer_address=find(buyer, "PostalTradeAddress") is not None,
        tax_representative_vat_id=text(agreement, "SellerTaxRepresentativeTradeParty/SpecifiedTaxRegistration/ID"),
    )


def _party(out: dict[str, Any], role: str, party: Element | None) -> None:
    if party is None:
        return
    put(out, f"{role}_name", text(party, "Name"))
    addr = find(party, "PostalTradeAddress")
    if addr is not None:
        town = " ".join(p for p in (text(addr, "PostcodeCode"), text(addr, "CityName")) if p)
        lines = [text(addr, t) for t in ("LineOne", "LineTwo", "LineThree")]
        put(out, f"{role}_address", joined(*lines, town, text(addr, "CountryID")))
        put(out, f"{role}_country", text(addr, "CountryID"))
    for reg in find_all(party, "SpecifiedTaxRegistration/ID"):
        scheme, value = reg.get("schemeID"), text(reg)
        if scheme == "VA":
            out.setdefault(f"{role}_vat_id", value)
        elif scheme == "FC" and role == "vendor":
            out.setdefault("vendor_tax_number", value)
    put(out, f"{role}_electronic_address", electronic_address(find(party, "URIUniversalCommunication/URIID")))


def _payment(out: dict[str, Any], settlement: Element | None) -> None:
    means = find_all(settlement, "SpecifiedTradeSettlementPaymentMeans")
    put(out, "payment_means_code", next((c for m in means if (c := text(m, "TypeCode"))), None))
    put(out, "payment_reference", text(settlement, "PaymentReference"))
    put(out, "iban", next((v for m in means if (v := text(m, "PayeePartyCreditorFinancialAccount/IBANID"))), None))
    bic = next((v for m in means if (v := text(m, "PayeeSpecifiedCreditorFinancialInstitution/BICID"))), None)
    put(out, "bic", bic)
    terms = find_all(settlement, "SpecifiedTradePaymentTerms")
    put(out, "due_date", next((d for t in terms if (d := date(t, "DueDateDateTime"))), None))
    put(out, "payment_terms", joined(*(d for t in terms if (d := text(t, "Description")))))


def _tax_row(tax: Element) -> dict[str, Any]:
    row: dict[str, Any] = {}
    put(row, "category", text(tax, "CategoryCode"))  # BT-118
    put(row, "rate", text(tax, RATE))  # BT-119
    put(row, "basis_amount", text(tax, "BasisAmount"))  # BT-116
    put(row, "tax_amount", text(tax, "CalculatedAmount"))  # BT-117
    put(row, "exemption_reason", text(tax, "ExemptionReason"))  # BT-120
    put(row, "exemption_reason_code", text(tax, "ExemptionReasonCode"))  # BT-121
    return row if "basis_amount" in row or "tax_amount" in row else {}


def _allowance_charge(ac: Element) -> dict[str, Any]:
    item: dict[str, Any] = {}
    indicator = (text(ac, "ChargeIndicator/Indicator") or text(ac, "ChargeIndicator") or "").lower()
    put(item, "kind", "charge" if indicator == "true" else "allowance")
    put(item, "amount", text(ac, "ActualAmount"))
    put(item, "base_amount", text(ac, "BasisAmount"))
    put(item, "percent", text(ac, "CalculationPercent"))
    put(item, "reason", text(ac, "Reason"))
    put(item, "reason_code", text(ac, "ReasonCode"))
    put(item, "tax_category", text(ac, "CategoryTradeTax/CategoryCode"))
    put(item, "tax_rate", text(ac, f"CategoryTradeTax/{RATE}"))
    return item


def _role(line: Element) -> str:
    """Factur-X EXTENDED sub-invoice lines: a line with a parent is part of it, not summed."""
    doc = find(line, "AssociatedDocumentLineDocument")
    status = (text(doc, "LineStatusReasonCode") or "").upper()
    if status == "INFORMATION":
        return "info"
    inside = bool(text(doc, "ParentLineID"))
    if status == "GROUP":
        return "subgroup" if inside else "group"
    return "sub" if inside else "line"


def _line(line: Element) -> dict[str, Any]:
    agreement = find(line, "SpecifiedLineTradeAgreement|SpecifiedSupplyChainTradeAgreement")
    delivery = find(line, "SpecifiedLineTradeDelivery|SpecifiedSupplyChainTradeDelivery")
    settlement = find(line, "SpecifiedLineTradeSettlement|SpecifiedSupplyChainTradeSettlement")
    sums = "SpecifiedTradeSettlementLineMonetarySummation|SpecifiedTradeSettlementMonetarySummation"
    item: dict[str, Any] = {}
    put(item, "line_id", text(line, "AssociatedDocumentLineDocument/LineID"))
    put(item, "description", text(line, "SpecifiedTradeProduct/Name"))
    put(item, "quantity", text(delivery, "BilledQuantity"))
    put(item, "unit", attribute(delivery, "BilledQuantity", "unitCode"))
    put(item, "unit_price", text(agreement, "NetPriceProductTradePrice/ChargeAmount"))
    put(item, "tax_category", text(settlement, "ApplicableTradeTax/CategoryCode"))
    put(item, "tax_rate", text(settlement, f"ApplicableTradeTax/{RATE}"))
    put(item, "amount", text(settlement, f"{sums}/LineTotalAmount"))
    return item
