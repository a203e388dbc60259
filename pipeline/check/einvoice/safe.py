"""Reading XML we do not control: no DTD, no entities, no network, a size limit.

The bytes are scanned first (`read/xmlhead.py`): a document type declaration is refused with
the attack it would enable named, before any parser sees it. The parser (lxml) is then set so
that nothing outside the file could be reached even if the scan were fooled (UTF-16, say):
entities are not resolved, no DTD is loaded, no network is used, huge trees are refused; and
a tree that still carries a DTD or an entity reference is refused too.
"""

from __future__ import annotations

import re

from ledgerlens.pipeline.read.xmlhead import MAX_XML_BYTES, read_xml_head, unsafe_reason
from lxml import etree


class EInvoiceXmlError(ValueError):
    """The XML is not an e-invoice we can read (broken, foreign, too large)."""


class UnsafeXmlError(EInvoiceXmlError):
    """The XML declares a DTD or entities: refused unread."""


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_pis=True,
    )


def parse_xml(xml: bytes) -> etree._Element:
    """The root element of `xml`; UnsafeXmlError or EInvoiceXmlError when it cannot be read safely."""
    if len(xml) > MAX_XML_BYTES:
        raise EInvoiceXmlError(f"the XML is larger than {MAX_XML_BYTES // 1_000_000} MB")
    head = read_xml_head(xml)
    if head is not None and head.doctype is not None:
        raise UnsafeXmlError(unsafe_reason(head.doctype))
    try:
        root = etree.fromstring(xml, _parser())
    except etree.XMLSyntaxError as e:
        if re.search(r"amplification|entity loop", str(e), re.IGNORECASE):  # libxml2's own bomb guard
            raise UnsafeXmlError(f"it declares entities whose expansion the parser stopped ({e})") from e
        raise EInvoiceXmlError(f"the XML is not well-formed: {e}") from e
    info = root.getroottree().docinfo
    if info.doctype or info.internalDTD is not None or info.externalDTD is not None:
        raise UnsafeXmlError(unsafe_reason(info.doctype or "<!DOCTYPE"))
    if any(True for _ in root.iter(etree.Entity)):
        raise UnsafeXmlError("it refers to entities; no e-invoice needs them, so the XML was not read")
    return root
