"""A PDF that carries its invoice as XML (Factur-X / ZUGFeRD, XRechnung, UBL).

Two stage functions, both pure over their inputs:

- `read_einvoice(doc)` lists the PDF's embedded files (pypdfium2) and reads the first that is a
  CII or UBL invoice (`syntax.py`, the same mapping as an XML file's). None when there is none:
  an ordinary PDF.
- `reconcile_einvoice(einvoice, out, data, issues, schema)` makes the XML the document's data
  (exact; confidence 1.0) and compares what the page shows with it. The page and the XML must
  agree on the total, the IBAN and the invoice number: a difference is an error on the result,
  because it is how altered invoices (a swapped IBAN) and broken generators are caught.

The visual extraction still runs on e-invoices: without it there is nothing to compare.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

import pypdfium2 as pdfium
from ledgerlens.pipeline.check.einvoice.model import XmlInvoice
from ledgerlens.pipeline.check.einvoice.rules import check_rules, rules_applied
from ledgerlens.pipeline.check.einvoice.safe import EInvoiceXmlError, parse_xml
from ledgerlens.pipeline.check.einvoice.syntax import read_tree
from ledgerlens.pipeline.check.einvoice.xsd import check_xsd
from ledgerlens.pipeline.check.parse import parse_output
from ledgerlens.pipeline.doctypes.schemas import DocumentSchema
from ledgerlens.pipeline.money import to_decimal
from ledgerlens.pipeline.types import Classification, Document, EngineOutput, FieldEvidence, Issue, Severity

STAGE = "einvoice"
# Names the standards give the attachment, in the order we prefer them when a PDF has several.
KNOWN_NAMES = ("factur-x.xml", "zugferd-invoice.xml", "xrechnung.xml", "order-x.xml")
# What the page must show as the XML says; a mismatch is an error, never a warning.
CHECKED_FIELDS = ("total_amount", "iban", "invoice_number")


@dataclass(frozen=True)
class EInvoice:
    attachment: str  # the embedded file's name, or the XML file's own name
    syntax: str = ""
    profile: str | None = None  # the specification identifier (BT-24)
    type_code: str | None = None
    fields: dict[str, Any] | None = None  # raw values from the XML; None when it could not be read
    error: str | None = None
    xml: XmlInvoice | None = None
    issues: tuple[Issue, ...] = ()  # EN 16931 rules and XSD findings

    @classmethod
    def of(cls, attachment: str, xml: XmlInvoice, issues: list[Issue]) -> EInvoice:
        return cls(attachment, xml.syntax, xml.customization_id, xml.type_code, xml.fields, None, xml, tuple(issues))

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "attachment": self.attachment,
            "syntax": self.syntax,
            "profile": self.profile,
            "type_code": self.type_code,
            "error": self.error,
        }
        if self.xml is not None:
            out |= {
                "customization": self.xml.customization,
                "business_process": self.xml.business_process,
                "rules": rules_applied(self.xml),
            }
            if self.xml.attachments:
                out["attachments"] = [
                    {"filename": a.filename, "mime_code": a.mime_code, "description": a.description,
                     "bytes": len(a.data) if a.data is not None else None}
                    for a in self.xml.attachments
                ]  # fmt: skip
        return out

    def classification(self, visual: Classification) -> Classification:
        """An e-invoice is an invoice (or credit note) whatever the page looks like."""
        if self.fields is None:
            return visual
        subtype = "credit_note" if self.fields.get("document_subtype") == "credit_note" else visual.subtype
        return Classification("invoice", 1.0, visual.scores, subtype)


def _attachments(doc: Document) -> list[tuple[str, bytes]]:
    pdf = pdfium.PdfDocument(str(doc.path))
    try:
        found = []
        for i in range(pdf.count_attachments()):
            att = pdf.get_attachment(i)
            name = att.get_name()
            if name.lower().endswith(".xml"):
                found.append((name, bytes(att.get_data())))
        return found
    finally:
        pdf.close()


def _rank(name: str) -> tuple[int, str]:
    lower = name.lower()
    return (KNOWN_NAMES.index(lower) if lower in KNOWN_NAMES else len(KNOWN_NAMES), lower)


def read_einvoice(doc: Document) -> EInvoice | None:
    """The invoice XML embedded in a PDF, or None. An embedded XML that cannot be read comes back
    with `error` set, so the result says why the page was used instead."""
    if doc.media_type != "application/pdf":
        return None
    try:
        candidates = sorted(_attachments(doc), key=lambda a: _rank(a[0]))
    except pdfium.PdfiumError:
        return None  # loading already read the PDF; a file without an attachment tree is not an e-invoice
    first_error: EInvoice | None = None
    for name, xml in candidates:
        try:
            root = parse_xml(xml)
            parsed = read_tree(root)
        except EInvoiceXmlError as e:
            first_error = first_error or EInvoice(name, error=str(e))
            continue
        return EInvoice.of(name, parsed, [*check_xsd(root, parsed), *check_rules(parsed)])
    # XML that is not an invoice (a delivery note, metadata) is not an error; broken invoice XML is.
    if first_error is not None and "root element" not in (first_error.error or ""):
        return first_error
    return None


def reconcile_einvoice(
    einvoice: EInvoice,
    out: EngineOutput,
    data: dict[str, Any],
    issues: list[Issue],
    schema: DocumentSchema,
    page_text: str = "",
) -> tuple[EngineOutput, dict[str, Any], list[Issue]]:
    """(engine output with XML evidence, the XML's data, issues) — or the visual ones unchanged
    plus a warning when the XML could not be read.

    An invoice number or IBAN the reader took differently is not flagged when the XML's value is
    printed on the page all the same (`page_text`): then the reader erred, not the document. A
    total is always compared as read: a page may print the old total elsewhere after an edit.
    """
    if einvoice.fields is None:
        warning = Issue(
            STAGE,
            "einvoice_unreadable",
            Severity.WARNING,
            f"the embedded e-invoice {einvoice.attachment} could not be read ({einvoice.error}); "
            "the fields come from the page",
        )
        return out, data, [*issues, warning]
    xml_data, xml_issues = parse_output(einvoice.fields, schema)
    xml_data, dropped = fit_schema(xml_data, schema, einvoice.attachment)
    checks = _mismatches(einvoice, data, xml_data, _compact(page_text))
    evidence = {k: _evidence(einvoice, out.field_evidence.get(k), data.get(k), v) for k, v in xml_data.items()}
    new_out = replace(out, data=dict(einvoice.fields), field_evidence=evidence)
    return new_out, xml_data, [*checks, *xml_issues, *dropped, *einvoice.issues]


def fit_schema(data: dict[str, Any], schema: DocumentSchema, attachment: str) -> tuple[dict[str, Any], list[Issue]]:
    """XML values our schema cannot hold (a BIC like "BIC_MONCOMPTE") are left out with a warning,
    so one odd value does not hold back every check on an exact document."""
    issues = []
    for path, message in schema.errors(data):
        key = path.removeprefix("$.").split(".")[0].split("[")[0]
        if key in data and not isinstance(data[key], list):  # a list's problem is validate's to report
            issues.append(
                Issue(STAGE, "einvoice_value_dropped", Severity.WARNING,
                      f"{key} from {attachment} does not fit the schema ({message}); left out", field=key)
            )  # fmt: skip
            data = {k: v for k, v in data.items() if k != key}
    return data, issues


def _evidence(einvoice: EInvoice, visual: FieldEvidence | None, seen: Any, value: Any) -> FieldEvidence:
    """Confidence 1.0 from the XML; where the page shows the same value, keep its page and box."""
    same = visual is not None and seen == value
    return FieldEvidence(
        1.0,
        page=visual.page if same and visual else None,
        bbox=visual.bbox if same and visual else None,
        source=f"xml:{einvoice.attachment}",
        text=visual.text if same and visual else (value if isinstance(value, str) else ""),
    )


def _compact(text: str) -> str:
    return re.sub(r"\s", "", text).upper()


def _mismatches(einvoice: EInvoice, page: dict[str, Any], xml: dict[str, Any], printed: str) -> list[Issue]:
    out = []
    for key in CHECKED_FIELDS:
        shown, stated = page.get(key), xml.get(key)
        if shown in (None, "") or stated in (None, "") or _same(key, shown, stated):
            continue
        if key != "total_amount" and _compact(str(stated)) in printed:
            continue  # the page prints the XML's value: the reader took the wrong text
        out.append(
            Issue(
                STAGE,
                "einvoice_mismatch",
                Severity.ERROR,
                f"{key}: the page shows {shown} but the embedded e-invoice ({einvoice.attachment}) says {stated}; "
                "the visible invoice and its XML disagree (altered document or broken generator): check before paying",
                field=key,
            )
        )
    return out


def _same(key: str, a: Any, b: Any) -> bool:
    if key == "total_amount":
        x, y = to_decimal(a), to_decimal(b)
        return x is not None and x == y
    if key == "iban":
        return re.sub(r"\s", "", str(a)).upper() == re.sub(r"\s", "", str(b)).upper()
    return re.sub(r"\s", "", str(a)).upper().lstrip("#") == re.sub(r"\s", "", str(b)).upper().lstrip("#")
