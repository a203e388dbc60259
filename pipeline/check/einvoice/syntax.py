"""Which syntax an XML invoice is written in, and its reading: one mapping per syntax, shared by
the XML file path and the XML embedded in a PDF."""

from __future__ import annotations

from ledgerlens.pipeline.check.einvoice.cii import read_cii
from ledgerlens.pipeline.check.einvoice.model import XmlInvoice
from ledgerlens.pipeline.check.einvoice.safe import EInvoiceXmlError, parse_xml
from ledgerlens.pipeline.check.einvoice.tree import Element, local
from ledgerlens.pipeline.check.einvoice.ubl import read_ubl
from ledgerlens.pipeline.read.xmlhead import EINVOICE_NAMES, EINVOICE_ROOTS


def syntax_of(root: Element) -> str | None:
    tag = root.tag if isinstance(root.tag, str) else ""
    namespace = tag[1:].partition("}")[0] if tag.startswith("{") else ""
    return EINVOICE_ROOTS.get((namespace, local(root)))


def read_tree(root: Element) -> XmlInvoice:
    """The invoice of a parsed XML tree; EInvoiceXmlError when its root is no e-invoice."""
    syntax = syntax_of(root)
    if syntax is None:
        raise EInvoiceXmlError(f"the root element {local(root)!r} is not an e-invoice ({EINVOICE_NAMES})")
    return read_ubl(root) if syntax == "UBL" else read_cii(root, syntax)


def parse_einvoice_xml(xml: bytes) -> XmlInvoice:
    """The invoice in `xml`; EInvoiceXmlError (UnsafeXmlError for a DTD) when it cannot be read."""
    return read_tree(parse_xml(xml))
