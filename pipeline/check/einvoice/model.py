"""An e-invoice as read from its XML: our invoice fields plus what only the checks and the view need.

`fields` uses the invoice schema's names with the raw strings of the XML (`check/parse` brings
them to canonical form). The rest is the syntax, the specification it claims (BT-24), the
business process (BT-23), the type code (BT-3), the notes (BT-22), per-line facts the rules
need, and attached documents.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# UNTDID 1001 codes of EN 16931, by what they mean to the books: credit notes book the other way round.
CREDIT_NOTE_CODES = frozenset({"81", "83", "261", "262", "296", "308", "381", "396", "420", "458", "532"})
CORRECTED_CODES = frozenset({"384", "471", "472", "473"})
PREPAYMENT_CODES = frozenset({"386", "500"})
EN16931 = "urn:cen.eu:en16931:2017"


def subtype_of(type_code: str | None, credit_note_root: bool = False) -> str:
    """document_subtype from the type code (BT-3); a UBL CreditNote is a credit note whatever its code."""
    if credit_note_root or type_code in CREDIT_NOTE_CODES:
        return "credit_note"
    if type_code in CORRECTED_CODES:
        return "corrected_invoice"
    if type_code in PREPAYMENT_CODES:
        return "prepayment_invoice"
    return "invoice"


@dataclass(frozen=True)
class Attachment:
    """A document carried inside the XML (UBL EmbeddedDocumentBinaryObject, BT-125)."""

    filename: str
    mime_code: str
    description: str
    data: bytes | None  # decoded; None when the content was not valid base64


LINE_ROLES = ("line", "group", "subgroup", "sub", "info")


@dataclass
class XmlInvoice:
    syntax: str  # "UBL" | "CII" | "ZUGFeRD 1.0"
    root: str  # Invoice | CreditNote | CrossIndustryInvoice | CrossIndustryDocument
    customization_id: str | None  # BT-24: the specification the invoice claims to follow
    business_process: str | None  # BT-23
    type_code: str | None  # BT-3
    fields: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # BT-22
    # Per line: "line"; CII EXTENDED sub-invoice lines also "group" (a top-level line made of
    # others), "subgroup" (a group inside a group), "sub" (a line inside a group) and "info" (an
    # INFORMATION line). Only "line" and "group" are summed; only "line" and "sub" carry real VAT.
    line_roles: list[str] = field(default_factory=list)
    seller_address: bool = False  # whether the postal address groups are there at all (BR-08, BR-10)
    buyer_address: bool = False
    tax_representative_vat_id: str | None = None  # BT-63
    attachments: list[Attachment] = field(default_factory=list)

    @property
    def profile(self) -> str | None:  # the name the embedded-XML path always used for BT-24
        return self.customization_id

    @property
    def customization(self) -> str:
        return customization_name(self.customization_id, self.syntax)

    @property
    def claims_en16931(self) -> bool:
        """Whether the invoice says it follows EN 16931 (MINIMUM, BASIC WL and ZUGFeRD 1.0 do not)."""
        cid = (self.customization_id or "").lower()
        if self.syntax == "ZUGFeRD 1.0" or re.search(r"factur-x\.eu:1p0:(minimum|basicwl)", cid):
            return False
        return cid.startswith(EN16931) or "zugferd.de:2p0" in cid or not cid


def customization_name(cid: str | None, syntax: str = "") -> str:
    """A person's name for a specification identifier (BT-24): XRechnung 3.0, Peppol BIS Billing 3.0, ..."""
    if not cid:
        return f"{syntax} (no specification identifier)".strip()
    lower = cid.lower()
    if m := re.search(r"xrechnung_(\d+(?:\.\d+)*)", lower):
        return f"XRechnung {m.group(1)}" + (" (extension)" if "kosit:extension" in lower else "")
    if "peppol.eu:2017:poacc:billing:3.0" in lower:
        return "Peppol BIS Billing 3.0"
    if m := re.search(r"factur-x\.eu:1p0:(minimum|basicwl|basic|extended)", lower):
        return "Factur-X / ZUGFeRD " + {"basicwl": "BASIC WL"}.get(m.group(1), m.group(1).upper())
    if m := re.search(r"zugferd\.de:2p0:(\w+)", lower):
        return f"ZUGFeRD 2.0 {m.group(1).upper()}"
    if m := re.search(r"crossindustrydocument:invoice:1p0:(\w+)", lower):
        return f"ZUGFeRD 1.0 {m.group(1).upper()}"
    if lower == EN16931:
        return "EN 16931 (Factur-X / ZUGFeRD EN 16931)"
    if lower.startswith(EN16931):
        return f"EN 16931 CIUS ({cid.split('#')[-1]})"
    return cid
