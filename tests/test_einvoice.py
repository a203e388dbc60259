"""E-invoices: the embedded XML is read exactly, and a page that disagrees with it is caught.

The Factur-X / ZUGFeRD specimens of the dev benchmark are read in place (never copied into the
repository); tampered copies are made in a temporary folder.
"""

from __future__ import annotations

import ctypes
import json
import shutil
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest
from ledgerlens.pipeline.chain import process_file
from ledgerlens.pipeline.check.einvoice import EInvoiceXmlError, parse_einvoice_xml, read_einvoice, reconcile_einvoice
from ledgerlens.pipeline.check.parse import parse_output
from ledgerlens.pipeline.doctypes.schemas import load_schemas
from ledgerlens.pipeline.measure.scoring import score_field
from ledgerlens.pipeline.read.load import load_document
from ledgerlens.pipeline.types import EngineOutput, FieldEvidence, Severity, Status

FACTURX = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "dev" / "facturx_dev"
needs_facturx = pytest.mark.skipif(not FACTURX.is_dir(), reason=f"dev benchmark not found at {FACTURX}")
INVOICE = load_schemas()["invoice"]


def _specimens() -> list[str]:
    return sorted(p.name.removesuffix(".gt.json") for p in FACTURX.glob("*.gt.json")) if FACTURX.is_dir() else []


def _misses(gt_path: Path, data: dict) -> list[str]:
    """Ground-truth fields the data does not match, compared as pipeline/scoring.py compares them.
    A row value the ground truth leaves as null (a tax category without a rate) is not labelled."""
    gt = json.loads(gt_path.read_text(encoding="utf-8"))
    expected = {**gt["fields"], **gt["fields_normalized"]}
    misses = []
    for name, value in expected.items():
        if value in (None, "", []):
            continue
        if isinstance(value, list):
            value = [{k: v for k, v in row.items() if v is not None} for row in value]
        if not score_field(name, value, data.get(name)).exact:
            misses.append(name)
    return misses


@needs_facturx
@pytest.mark.parametrize("name", _specimens())
def test_every_specimen_is_read_exactly_from_its_xml(name: str, context) -> None:
    result = process_file(FACTURX / f"{name}.pdf", context)
    assert result.doc_type == "invoice"
    assert _misses(FACTURX / f"{name}.gt.json", result.data) == []
    assert set(result.confidence.values()) == {1.0}
    assert all(f["source"].startswith("xml:") for f in result.provenance["fields"].values())
    assert result.provenance["einvoice"]["syntax"] in ("CII", "ZUGFeRD 1.0")
    assert "einvoice_mismatch" not in [i.code for i in result.issues]  # the genuine page agrees


def _replace_text(src: Path, dst: Path, old: str, new: str) -> int:
    """Copy `src` to `dst` with every text object reading `old` replaced by `new` at the same place
    (the embedded files stay): what someone editing the visible invoice would do."""
    pdf = pdfium.PdfDocument(str(src))
    replaced = 0
    for page in pdf:
        textpage = page.get_textpage()
        for obj in list(page.get_objects()):
            if obj.type != pdfium_c.FPDF_PAGEOBJ_TEXT:
                continue
            size = pdfium_c.FPDFTextObj_GetText(obj.raw, textpage.raw, None, 0)
            buf = (ctypes.c_ushort * size)()
            pdfium_c.FPDFTextObj_GetText(obj.raw, textpage.raw, buf, size)
            if bytes(buf).decode("utf-16-le").rstrip("\x00").strip() != old:
                continue
            left, bottom, _, top = obj.get_bounds()
            text = pdfium_c.FPDFPageObj_NewTextObj(pdf.raw, b"Helvetica", ctypes.c_float(top - bottom))
            wide = ctypes.c_char_p((new + "\x00").encode("utf-16-le"))
            pdfium_c.FPDFText_SetText(text, ctypes.cast(wide, ctypes.POINTER(pdfium_c.FPDF_WCHAR)))
            pdfium_c.FPDFPageObj_Transform(text, 1, 0, 0, 1, left, bottom)
            pdfium_c.FPDFPage_RemoveObject(page.raw, obj.raw)
            pdfium_c.FPDFPage_InsertObject(page.raw, text)
            replaced += 1
        pdfium_c.FPDFPage_GenerateContent(page.raw)
    pdf.save(str(dst))
    pdf.close()
    return replaced


@needs_facturx
def test_a_tampered_visible_total_is_a_high_severity_issue(tmp_path: Path, context) -> None:
    tampered = tmp_path / "zugferd_invoice.tampered.pdf"
    assert _replace_text(FACTURX / "zugferd_invoice.pdf", tampered, "1.005,55", "1.095,55") == 1
    result = process_file(tampered, context)
    assert result.data["total_amount"] == "1005.55"  # the data is still the XML's
    mismatches = [i for i in result.issues if i.code == "einvoice_mismatch"]
    assert [(i.field, i.severity, i.stage) for i in mismatches] == [("total_amount", Severity.ERROR, "einvoice")]
    assert "the page shows 1095.55 but the embedded e-invoice (ZUGFeRD-invoice.xml) says 1005.55" in (
        mismatches[0].message
    )
    assert result.status is Status.NEEDS_REVIEW


@needs_facturx
def test_the_copy_without_xml_is_an_ordinary_pdf(context) -> None:
    doc = load_document(FACTURX / "zugferd_invoice.noxml.pdf", context.config.pipeline, "x.pdf")
    assert read_einvoice(doc) is None


@needs_facturx
def test_when_a_pdf_carries_two_invoice_xmls_factur_x_is_preferred(context) -> None:
    doc = load_document(FACTURX / "validV2PDF.pdf", context.config.pipeline, "validV2PDF.pdf")
    found = read_einvoice(doc)
    assert found is not None and (found.attachment, found.syntax) == ("factur-x.xml", "CII")


# --- reconciling without PDFs: the comparison rules -------------------------------------------

UBL = b"""<?xml version="1.0" encoding="UTF-8"?>
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
 xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
 xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
 <cbc:CustomizationID>urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0</cbc:CustomizationID>
 <cbc:ID>UBL-7</cbc:ID><cbc:IssueDate>2025-03-03</cbc:IssueDate><cbc:DueDate>2025-04-02</cbc:DueDate>
 <cbc:InvoiceTypeCode>380</cbc:InvoiceTypeCode><cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>
 <cbc:BuyerReference>04011000-12345-34</cbc:BuyerReference>
 <cac:AccountingSupplierParty><cac:Party><cac:PostalAddress><cbc:StreetName>Hauptstr. 1</cbc:StreetName>
  <cbc:CityName>Berlin</cbc:CityName><cbc:PostalZone>10115</cbc:PostalZone>
  <cac:Country><cbc:IdentificationCode>DE</cbc:IdentificationCode></cac:Country></cac:PostalAddress>
  <cac:PartyTaxScheme><cbc:CompanyID>DE136695976</cbc:CompanyID><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme>
  </cac:PartyTaxScheme><cac:PartyLegalEntity><cbc:RegistrationName>Acme Supplies GmbH</cbc:RegistrationName>
  </cac:PartyLegalEntity></cac:Party></cac:AccountingSupplierParty>
 <cac:AccountingCustomerParty><cac:Party><cac:PartyName><cbc:Name>Buyer AG</cbc:Name></cac:PartyName>
 </cac:Party></cac:AccountingCustomerParty>
 <cac:PaymentMeans><cbc:PaymentMeansCode>58</cbc:PaymentMeansCode>
  <cac:PayeeFinancialAccount><cbc:ID>DE89370400440532013000</cbc:ID></cac:PayeeFinancialAccount></cac:PaymentMeans>
 <cac:TaxTotal><cbc:TaxAmount currencyID="EUR">19.00</cbc:TaxAmount>
  <cac:TaxSubtotal><cbc:TaxableAmount currencyID="EUR">100.00</cbc:TaxableAmount>
   <cbc:TaxAmount currencyID="EUR">19.00</cbc:TaxAmount>
   <cac:TaxCategory><cbc:ID>S</cbc:ID><cbc:Percent>19</cbc:Percent></cac:TaxCategory></cac:TaxSubtotal></cac:TaxTotal>
 <cac:LegalMonetaryTotal><cbc:LineExtensionAmount currencyID="EUR">100.00</cbc:LineExtensionAmount>
  <cbc:TaxExclusiveAmount currencyID="EUR">100.00</cbc:TaxExclusiveAmount>
  <cbc:TaxInclusiveAmount currencyID="EUR">119.00</cbc:TaxInclusiveAmount>
  <cbc:PayableAmount currencyID="EUR">119.00</cbc:PayableAmount></cac:LegalMonetaryTotal>
 <cac:InvoiceLine><cbc:ID>1</cbc:ID><cbc:InvoicedQuantity unitCode="H87">10</cbc:InvoicedQuantity>
  <cbc:LineExtensionAmount currencyID="EUR">100.00</cbc:LineExtensionAmount>
  <cac:Item><cbc:Name>Printer paper A4</cbc:Name><cac:ClassifiedTaxCategory><cbc:ID>S</cbc:ID>
  <cbc:Percent>19</cbc:Percent></cac:ClassifiedTaxCategory></cac:Item>
  <cac:Price><cbc:PriceAmount currencyID="EUR">10.00</cbc:PriceAmount></cac:Price></cac:InvoiceLine>
</Invoice>"""


def test_a_ubl_invoice_maps_to_our_fields() -> None:
    xml = parse_einvoice_xml(UBL)
    assert (xml.syntax, xml.type_code) == ("UBL", "380")
    data, issues = parse_output(xml.fields, INVOICE)
    assert issues == [] and INVOICE.errors(data) == []
    assert data == {
        "document_subtype": "invoice", "invoice_number": "UBL-7", "date": "2025-03-03", "due_date": "2025-04-02",
        "currency": "EUR", "vendor_name": "Acme Supplies GmbH", "vendor_address": "Hauptstr. 1, 10115 Berlin, DE",
        "vendor_vat_id": "DE136695976", "buyer_name": "Buyer AG", "buyer_reference": "04011000-12345-34",
        "iban": "DE89370400440532013000", "line_total_amount": "100.00", "net_amount": "100.00",
        "total_amount": "119.00", "amount_due": "119.00", "tax_amount": "19.00", "vat_rate": "19",
        "tax_breakdown": [{"category": "S", "rate": "19", "basis_amount": "100.00", "tax_amount": "19.00"}],
        "line_items": [{"description": "Printer paper A4", "quantity": "10", "unit": "H87", "unit_price": "10.00",
                        "tax_rate": "19", "amount": "100.00", "line_id": "1", "tax_category": "S"}],
        "document_type_code": "380", "vendor_country": "DE", "payment_means_code": "58",
    }  # fmt: skip


def test_a_ubl_credit_note_is_a_credit_note() -> None:
    xml = UBL.replace(b"<Invoice ", b"<CreditNote ").replace(b"</Invoice>", b"</CreditNote>")
    xml = xml.replace(b":Invoice-2", b":CreditNote-2").replace(
        b"<cbc:InvoiceTypeCode>380</cbc:InvoiceTypeCode>", b"<cbc:CreditNoteTypeCode>381</cbc:CreditNoteTypeCode>"
    )
    xml = xml.replace(b"InvoiceLine>", b"CreditNoteLine>").replace(b"InvoicedQuantity", b"CreditedQuantity")
    parsed = parse_einvoice_xml(xml)
    assert parsed.fields["document_subtype"] == "credit_note"
    assert parsed.fields["line_items"][0]["quantity"] == "10"


@pytest.mark.parametrize(
    ("xml", "reason"),
    [
        (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><Invoice>&a;</Invoice>', "declares entities"),
        (b"<Invoice><ID>1</ID>", "not well-formed"),
        (b"<DeliveryNote/>", "root element"),
    ],
)
def test_unsafe_broken_or_foreign_xml_is_refused(xml: bytes, reason: str) -> None:
    with pytest.raises(EInvoiceXmlError, match=reason):
        parse_einvoice_xml(xml)


def _reconcile(page: dict, xml: bytes = UBL, text: str = "") -> tuple[dict, list]:
    from ledgerlens.pipeline.check.einvoice import EInvoice

    parsed = parse_einvoice_xml(xml)
    einvoice = EInvoice("xrechnung.xml", parsed.syntax, parsed.profile, parsed.type_code, parsed.fields, xml=parsed)
    evidence = {
        k: FieldEvidence(0.6, page=1, bbox=(1, 2, 3, 4), source="label:x", text=str(v)) for k, v in page.items()
    }
    out = EngineOutput("", page, evidence, {})
    new_out, data, issues = reconcile_einvoice(einvoice, out, page, [], INVOICE, text)
    assert all(ev.confidence == 1.0 and ev.source == "xml:xrechnung.xml" for ev in new_out.field_evidence.values())
    return data, issues


def test_a_page_that_agrees_gives_the_xml_data_and_no_issue() -> None:
    data, issues = _reconcile({"total_amount": "119.00", "iban": "DE89370400440532013000", "invoice_number": "ubl-7"})
    assert issues == [] and data["total_amount"] == "119.00"


@pytest.mark.parametrize(
    ("field", "shown"),
    [("total_amount", "191.00"), ("iban", "GB29NWBK60161331926819"), ("invoice_number", "UBL-8")],
)
def test_each_checked_field_that_disagrees_is_an_error(field: str, shown: str) -> None:
    _, issues = _reconcile({field: shown})
    (issue,) = issues
    assert (issue.code, issue.field, issue.severity) == ("einvoice_mismatch", field, Severity.ERROR)
    assert f"the page shows {shown}" in issue.message


def test_a_misread_number_is_not_flagged_when_the_page_prints_the_xml_value() -> None:
    _, issues = _reconcile({"invoice_number": "UBL-7von03.03.2025"}, text="Rechnung UBL-7 von 03.03.2025")
    assert issues == []
    _, issues = _reconcile({"total_amount": "191.00"}, text="Total 119,00 EUR")  # totals are always compared
    assert [i.code for i in issues] == ["einvoice_mismatch"]


def test_an_unreadable_xml_keeps_the_page_with_a_warning() -> None:
    from ledgerlens.pipeline.check.einvoice import EInvoice

    out = EngineOutput("", {"total_amount": "1.00"}, {}, {})
    broken = EInvoice("factur-x.xml", error="the XML is not well-formed")
    new_out, data, issues = reconcile_einvoice(broken, out, {"total_amount": "1.00"}, [], INVOICE)
    assert new_out is out and data == {"total_amount": "1.00"}
    assert [(i.code, i.severity) for i in issues] == [("einvoice_unreadable", Severity.WARNING)]


@needs_facturx
def test_a_pdf_whose_xml_is_broken_says_so(tmp_path: Path, context) -> None:
    copy = tmp_path / "broken.pdf"
    shutil.copy(FACTURX / "zugferd_invoice.noxml.pdf", copy)
    pdf = pdfium.PdfDocument(str(copy))
    attachment = pdf.new_attachment("factur-x.xml")
    attachment.set_data(b"<rsm:CrossIndustryInvoice xmlns:rsm='urn:x'><unclosed>")
    pdf.save(str(tmp_path / "with-broken-xml.pdf"))
    pdf.close()
    result = process_file(tmp_path / "with-broken-xml.pdf", context)
    assert "einvoice_unreadable" in [i.code for i in result.issues]
    assert result.provenance["einvoice"]["error"].startswith("the XML is not well-formed")
