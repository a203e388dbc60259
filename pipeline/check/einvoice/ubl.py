"""OASIS UBL 2.1 `Invoice` and `CreditNote` (XRechnung UBL, Peppol BIS Billing 3) -> our invoice fields.

The EN 16931 business terms (BT-n) each field comes from are named beside it; the same names
come out of `cii.py`, so every later stage sees one model whatever the syntax.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from ledgerlens.pipeline.check.einvoice.model import Attachment, XmlInvoice, subtype_of
from ledgerlens.pipeline.check.einvoice.tree import (
    Element,
    attribute,
    find,
    find_all,
    in_currency,
    joined,
    local,
    put,
    text,
    texts,
)

TOTALS = (
    ("line_total_amount", "LineExtensionAmount"),  # BT-106
    ("allowance_total_amount", "AllowanceTotalAmount"),  # BT-107
    ("charge_total_amount", "ChargeTotalAmount"),  # BT-108
    ("net_amount", "TaxExclusiveAmount"),  # BT-109
    ("total_amount", "TaxInclusiveAmount"),  # BT-112
    ("prepaid_amount", "PrepaidAmount"),  # BT-113
    ("rounding_amount", "PayableRoundingAmount"),  # BT-114
    ("amount_due", "PayableAmount"),  # BT-115
)


def read_ubl(root: Element) -> XmlInvoice:
    credit = local(root) == "CreditNote"
    type_code = text(root, "CreditNoteTypeCode" if credit else "InvoiceTypeCode")
    currency = text(root, "DocumentCurrencyCode")
    out: dict[str, Any] = {}
    put(out, "document_subtype", subtype_of(type_code, credit))
    put(out, "document_type_code", type_code)
    put(out, "invoice_number", text(root, "ID"))
    put(out, "date", text(root, "IssueDate"))
    put(out, "due_date", text(root, "DueDate") or text(root, "PaymentMeans/PaymentDueDate"))
    put(out, "currency", currency)
    put(out, "buyer_reference", text(root, "BuyerReference"))
    put(out, "order_number", text(root, "OrderReference/ID"))
    put(out, "contract_reference", text(root, "ContractDocumentReference/ID"))
    put(out, "preceding_invoice_number", text(root, "BillingReference/InvoiceDocumentReference/ID"))
    put(out, "delivery_date", text(root, "Delivery/ActualDeliveryDate"))
    put(out, "billing_period_start", text(root, "InvoicePeriod/StartDate"))
    put(out, "billing_period_end", text(root, "InvoicePeriod/EndDate"))
    seller = find(root, "AccountingSupplierParty/Party")
    buyer = find(root, "AccountingCustomerParty/Party")
    _party(out, "vendor", seller)
    _party(out, "buyer", buyer)
    _payment(out, root)
    totals = find(root, "LegalMonetaryTotal")
    for key, tag in TOTALS:
        put(out, key, text(totals, tag))
    tax_totals = find_all(root, "TaxTotal")
    put(out, "tax_amount", in_currency([t for tt in tax_totals for t in find_all(tt, "TaxAmount")], currency))
    rows = [_tax_row(sub) for tt in tax_totals for sub in find_all(tt, "TaxSubtotal")]
    put(out, "tax_breakdown", rows)
    put(out, "vat_rate", single_rate(rows))
    put(out, "allowances_charges", [_allowance_charge(ac) for ac in find_all(root, "AllowanceCharge")])
    lines = find_all(root, "CreditNoteLine" if credit else "InvoiceLine")
    put(out, "line_items", [item for line in lines if (item := _line(line, credit))])
    return XmlInvoice(
        syntax="UBL",
        root=local(root),
        customization_id=text(root, "CustomizationID"),
        business_process=text(root, "ProfileID"),
        type_code=type_code,
        fields=out,
        notes=texts(root, "Note"),
        line_roles=["line"] * len(out.get("line_items", [])),
        seller_address=find(seller, "PostalAddress") is not None,
        buyer_address=find(buyer, "PostalAddress") is not None,
        tax_representative_vat_id=text(root, "TaxRepresentativeParty/PartyTaxScheme/CompanyID"),
        attachments=[a for ref in find_all(root, "AdditionalDocumentReference") if (a := _attachment(ref))],
    )


def _party(out: dict[str, Any], role: str, party: Element | None) -> None:
    if party is None:
        return
    put(out, f"{role}_name", text(party, "PartyLegalEntity/RegistrationName") or text(party, "PartyName/Name"))
    addr = find(party, "PostalAddress")
    if addr is not None:
        town = " ".join(p for p in (text(addr, "PostalZone"), text(addr, "CityName")) if p)
        country = text(addr, "Country/IdentificationCode")
        street = (text(addr, "StreetName"), text(addr, "AdditionalStreetName"), text(addr, "AddressLine/Line"))
        put(out, f"{role}_address", joined(*street, town, country))
        put(out, f"{role}_country", country)
    for scheme in find_all(party, "PartyTaxScheme"):
        value, kind = text(scheme, "CompanyID"), text(scheme, "TaxScheme/ID")
        if kind == "VAT":
            out.setdefault(f"{role}_vat_id", value)
        elif role == "vendor" and value:
            out.setdefault("vendor_tax_number", value)
    endpoint = find(party, "EndpointID")
    put(out, f"{role}_electronic_address", electronic_address(endpoint))


def electronic_address(node: Element | None) -> str | None:
    """BT-34 / BT-49 as `scheme:value` (EAS code, e.g. `0204:04011000-12345-34`, `EM:ap@example.com`)."""
    value = text(node)
    if value is None or node is None:
        return None
    scheme = (node.get("schemeID") or "").strip()
    return f"{scheme}:{value}" if scheme else value


def _payment(out: dict[str, Any], root: Element) -> None:
    means = find_all(root, "PaymentMeans")
    put(out, "payment_means_code", next((c for m in means if (c := text(m, "PaymentMeansCode"))), None))
    put(out, "payment_reference", next((c for m in means if (c := text(m, "PaymentID"))), None))
    put(out, "iban", next((v for m in means if (v := text(m, "PayeeFinancialAccount/ID"))), None))
    bic = next((v for m in means if (v := text(m, "PayeeFinancialAccount/FinancialInstitutionBranch/ID"))), None)
    put(out, "bic", bic)
    put(out, "payment_terms", joined(*texts(root, "PaymentTerms/Note")))


def _tax_row(sub: Element) -> dict[str, Any]:
    row: dict[str, Any] = {}
    put(row, "category", text(sub, "TaxCategory/ID"))  # BT-118
    put(row, "rate", text(sub, "TaxCategory/Percent"))  # BT-119
    put(row, "basis_amount", text(sub, "TaxableAmount"))  # BT-116
    put(row, "tax_amount", text(sub, "TaxAmount"))  # BT-117
    put(row, "exemption_reason", text(sub, "TaxCategory/TaxExemptionReason"))  # BT-120
    put(row, "exemption_reason_code", text(sub, "TaxCategory/TaxExemptionReasonCode"))  # BT-121
    return row


def single_rate(rows: list[dict[str, Any]]) -> str | None:
    rates = {r["rate"] for r in rows if r.get("rate") is not None}
    return rates.pop() if len(rates) == 1 else None


def _allowance_charge(ac: Element) -> dict[str, Any]:
    """BG-20 (allowance) / BG-21 (charge) on document level."""
    item: dict[str, Any] = {}
    indicator = (text(ac, "ChargeIndicator") or "").lower()
    put(item, "kind", "charge" if indicator == "true" else "allowance")
    put(item, "amount", text(ac, "Amount"))  # BT-92 / BT-99
    put(item, "base_amount", text(ac, "BaseAmount"))  # BT-93 / BT-100
    put(item, "percent", text(ac, "MultiplierFactorNumeric"))  # BT-94 / BT-101
    put(item, "reason", text(ac, "AllowanceChargeReason"))  # BT-97 / BT-104
    put(item, "reason_code", text(ac, "AllowanceChargeReasonCode"))  # BT-98 / BT-105
    put(item, "tax_category", text(ac, "TaxCategory/ID"))  # BT-95 / BT-102
    put(item, "tax_rate", text(ac, "TaxCategory/Percent"))  # BT-96 / BT-103
    return item


def _line(line: Element, credit: bool) -> dict[str, Any]:
    quantity = find(line, "CreditedQuantity" if credit else "InvoicedQuantity")
    item: dict[str, Any] = {}
    put(item, "line_id", text(line, "ID"))  # BT-126
    put(item, "description", text(line, "Item/Name") or text(line, "Item/Description"))  # BT-153
    put(item, "quantity", text(quantity))  # BT-129
    put(item, "unit", attribute(quantity, "", "unitCode"))  # BT-130
    put(item, "unit_price", text(line, "Price/PriceAmount"))  # BT-146
    put(item, "tax_category", text(line, "Item/ClassifiedTaxCategory/ID"))  # BT-151
    put(item, "tax_rate", text(line, "Item/ClassifiedTaxCategory/Percent"))  # BT-152
    put(item, "amount", text(line, "LineExtensionAmount"))  # BT-131
    return item


def _attachment(ref: Element) -> Attachment | None:
    blob = find(ref, "Attachment/EmbeddedDocumentBinaryObject")
    if blob is None:
        return None
    try:
        data: bytes | None = base64.b64decode("".join((blob.text or "").split()), validate=True)
    except (binascii.Error, ValueError):
        data = None
    return Attachment(
        filename=(blob.get("filename") or "").strip(),
        mime_code=(blob.get("mimeCode") or "").strip(),
        description=text(ref, "DocumentDescription") or text(ref, "ID") or "",
        data=data,
    )
