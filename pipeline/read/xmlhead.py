"""What an XML file is, from its prolog alone: its document type declaration and its root element.

A lexical scan, not a parser: the XML declaration, comments and processing instructions are
skipped, a DOCTYPE is kept whole (internal subset included), and the root's start tag gives its
name and, from its own `xmlns` declarations, its namespace. Nothing is expanded or fetched, so
the scan is safe on any bytes. `load` uses it to accept e-invoices (never by extension) and to
refuse a DTD; `check/einvoice` uses it again before any parser sees embedded XML.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# No e-invoice comes near this: a larger XML file is refused before it is parsed.
MAX_XML_BYTES = 20_000_000

UBL_INVOICE_NS = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
UBL_CREDIT_NOTE_NS = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
CII_NS = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
ZUGFERD1_NS = "urn:ferd:CrossIndustryDocument:invoice:1p0"

# (namespace, root element) -> the syntax read from it.
EINVOICE_ROOTS: dict[tuple[str, str], str] = {
    (UBL_INVOICE_NS, "Invoice"): "UBL",
    (UBL_CREDIT_NOTE_NS, "CreditNote"): "UBL",
    (CII_NS, "CrossIndustryInvoice"): "CII",
    (ZUGFERD1_NS, "CrossIndustryDocument"): "ZUGFeRD 1.0",
}
EINVOICE_NAMES = "UBL 2.1 Invoice or CreditNote, UN/CEFACT CII CrossIndustryInvoice, ZUGFeRD 1.0"

_NAME = re.compile(r"[A-Za-z_][\w.\-]*(?::[A-Za-z_][\w.\-]*)?")
_ATTRIBUTE = re.compile(r"""([A-Za-z_][\w.:\-]*)\s*=\s*("[^"]*"|'[^']*')""")


@dataclass(frozen=True)
class XmlHead:
    root: str | None  # the root element as written ("rsm:CrossIndustryInvoice"); None: not within the bytes
    namespace: str | None = None
    doctype: str | None = None  # the whole <!DOCTYPE ...> declaration, when there is one

    @property
    def local(self) -> str:
        return (self.root or "").rpartition(":")[2]

    @property
    def syntax(self) -> str | None:
        """The e-invoice syntax of this root, None for any other XML."""
        return EINVOICE_ROOTS.get((self.namespace or "", self.local))

    def describe(self) -> str:
        """The root element as a person reads it: `<Order>` (namespace urn:...)."""
        where = f" (namespace {self.namespace})" if self.namespace else " (no namespace)"
        return f"<{self.local}>{where}"


def read_xml_head(data: bytes) -> XmlHead | None:
    """The prolog and root of XML `data`; None when the bytes do not start like XML."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = data.decode("utf-16", errors="replace")  # with its byte-order mark
    else:
        # latin-1 maps each byte to one character: markup and namespace URIs are ASCII in any 8-bit encoding.
        text = data.removeprefix(b"\xef\xbb\xbf").decode("latin-1")
    pos, doctype = 0, None
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            return XmlHead(None, doctype=doctype)
        if text.startswith("<?", pos) or text.startswith("<!--", pos):
            end = text.find("?>" if text[pos + 1] == "?" else "-->", pos + 2)
            if end < 0:
                return XmlHead(None, doctype=doctype)
            pos = end + (2 if text[pos + 1] == "?" else 3)
        elif text[pos : pos + 9].upper() == "<!DOCTYPE":
            end = _declaration_end(text, pos)
            doctype = text[pos:end]
            pos = end
        elif text.startswith("<", pos):
            return _root(text, pos, doctype)
        else:
            return None


def _declaration_end(text: str, pos: int) -> int:
    """The end of `<!DOCTYPE ...>`: its closing `>` outside quotes and the internal subset."""
    depth, quote = 0, ""
    for i in range(pos + 2, len(text)):
        ch = text[i]
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == ">" and depth <= 0:
            return i + 1
    return len(text)


def _root(text: str, pos: int, doctype: str | None) -> XmlHead | None:
    name = _NAME.match(text, pos + 1)
    if name is None:
        return None
    end = _tag_end(text, name.end())
    attributes = dict((k, v[1:-1]) for k, v in _ATTRIBUTE.findall(text[name.end() : end]))
    prefix = name.group().rpartition(":")[0]
    namespace = attributes.get(f"xmlns:{prefix}" if prefix else "xmlns")
    return XmlHead(name.group(), namespace, doctype)


def _tag_end(text: str, pos: int) -> int:
    quote = ""
    for i in range(pos, len(text)):
        ch = text[i]
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch == ">":
            return i
    return len(text)


def unsafe_reason(doctype: str) -> str:
    """Why a document type declaration is refused, in words that name the attack it enables."""
    if re.search(r"<!ENTITY\s+(?:%\s*)?[^\s>]+\s+(?:SYSTEM|PUBLIC)\b", doctype):
        why = "it declares an external entity (XXE: a way to read files of this machine or reach the network)"
    elif "<!ENTITY" in doctype:
        why = "it declares entities (the way 'billion laughs' expansion attacks exhaust memory)"
    elif re.match(r"<!DOCTYPE\s+[^\s>\[]+\s+(?:SYSTEM|PUBLIC)\b", doctype, re.IGNORECASE):
        why = "it refers to an external DTD (which a parser would fetch from outside the file)"
    else:
        why = "it carries a document type declaration"
    return f"{why}; no e-invoice needs a DTD, so the XML was not read"
