"""XML e-invoices dropped as files: recognised by root element and namespace, read exactly, checked
against the XSD, refused when unsafe, and given a readable page beside them in done/.

The generated invoices come from tests/fixtures/samples/einvoices.py; the Factur-X `.gt.xml` files
of the dev benchmark are real CII, read in place (never copied into the repository).
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest
from fixtures.samples.einvoice_xml import cii_xml, ubl_xml
from fixtures.samples.einvoices import (
    einvoice_truth,
    facturx_credit_note_spec,
    peppol_credit_note_spec,
    xrechnung_cii_spec,
    xrechnung_ubl_spec,
)
from ledgerlens.pipeline.chain import process_file
from ledgerlens.pipeline.check.einvoice import UnsafeXmlError
from ledgerlens.pipeline.check.einvoice.safe import parse_xml
from ledgerlens.pipeline.check.einvoice.view import companions
from ledgerlens.pipeline.config import PipelineOptions
from ledgerlens.pipeline.doctypes.schemas import load_schemas
from ledgerlens.pipeline.errors import DocumentError
from ledgerlens.pipeline.measure.scoring import score_field
from ledgerlens.pipeline.read.load import load_document
from ledgerlens.pipeline.types import Status

FACTURX = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "dev" / "facturx_dev"
needs_facturx = pytest.mark.skipif(not FACTURX.is_dir(), reason=f"dev benchmark not found at {FACTURX}")
INVOICE = load_schemas()["invoice"]
SAMPLES = {
    "xrechnung_ubl": (xrechnung_ubl_spec, ubl_xml, "XRechnung 3.0", "UBL"),
    "peppol_credit_note": (peppol_credit_note_spec, ubl_xml, "Peppol BIS Billing 3.0", "UBL"),
    "xrechnung_cii": (xrechnung_cii_spec, cii_xml, "XRechnung 3.0", "CII"),
    "facturx_credit_note": (facturx_credit_note_spec, cii_xml, "EN 16931 (Factur-X / ZUGFeRD EN 16931)", "CII"),
}
UBL_NS = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _misses(expected: dict, data: dict) -> list[str]:
    return [name for name, value in expected.items() if not score_field(name, value, data.get(name)).exact]


# --- recognised by content, never by extension -------------------------------------------------------


@pytest.mark.parametrize("name", ["rechnung.xml", "rechnung.pdf", "rechnung"])
def test_an_xrechnung_is_taken_whatever_its_name(tmp_path: Path, name: str) -> None:
    xml = ubl_xml(xrechnung_ubl_spec(random.Random(0)))
    doc = load_document(_write(tmp_path, name, xml), PipelineOptions())
    assert (doc.media_type, doc.pages) == ("application/xml", [])


@pytest.mark.parametrize(
    ("xml", "named"),
    [
        (b'<?xml version="1.0"?><Order xmlns="urn:oasis:names:specification:ubl:schema:xsd:Order-2"/>', "<Order>"),
        (b'<Invoice xmlns="urn:example:not-ubl"><ID>1</ID></Invoice>', "<Invoice> (namespace urn:example:not-ubl)"),
        (b"<?xml version='1.0'?>\n<!-- a note -->\n<catalog><item/></catalog>", "<catalog> (no namespace)"),
    ],
)
def test_other_xml_is_unsupported_with_its_root_named(tmp_path: Path, xml: bytes, named: str) -> None:
    with pytest.raises(DocumentError) as info:
        load_document(_write(tmp_path, "invoice.xml", xml), PipelineOptions())
    assert info.value.code == "unsupported_format" and named in info.value.message


def test_xhtml_is_still_a_web_page(tmp_path: Path) -> None:
    xhtml = b'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><body>Invoice</body></html>'
    with pytest.raises(DocumentError, match="web page"):
        load_document(_write(tmp_path, "x.xml", xhtml), PipelineOptions())


# --- unsafe XML is refused, and nothing from outside the file is read --------------------------------

XXE = f"""<?xml version="1.0"?>
<!DOCTYPE Invoice [<!ENTITY secret SYSTEM "file:///etc/hostname">]>
<Invoice xmlns="{UBL_NS}"><ID>&secret;</ID></Invoice>""".encode()
LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n<!ENTITY lol "lol">\n'
    + b"".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">\n'.encode() for i in range(2, 10)).replace(
        b"&lol1;", b"&lol;"
    )
    + f']>\n<Invoice xmlns="{UBL_NS}"><ID>&lol9;</ID></Invoice>'.encode()
)
EXTERNAL_DTD = f"""<?xml version="1.0"?>
<!DOCTYPE Invoice SYSTEM "http://127.0.0.1:9/invoice.dtd">
<Invoice xmlns="{UBL_NS}"><ID>1</ID></Invoice>""".encode()


@pytest.mark.parametrize(
    ("xml", "reason"),
    [(XXE, "external entity"), (LAUGHS, "billion laughs"), (EXTERNAL_DTD, "external DTD")],
    ids=["xxe", "billion-laughs", "external-dtd"],
)
def test_unsafe_xml_fails_as_unsafe_xml(tmp_path: Path, context, xml: bytes, reason: str) -> None:
    result = process_file(_write(tmp_path, "evil.xml", xml), context)
    assert result.status is Status.FAILED and result.data == {}
    (issue,) = result.issues
    assert issue.code == "unsafe_xml" and reason in issue.message
    assert result.provenance["error"]["hint"]


def test_the_parser_refuses_a_dtd_the_prolog_scan_cannot_see() -> None:
    # UTF-16 without a byte-order mark: the prolog scan does not read it, lxml does, and the tree's
    # DTD is refused (entities unexpanded); with the mark, the scan reads it and refuses it first.
    declared = '<?xml version="1.0" encoding="UTF-16"?>'
    for data in (XXE, LAUGHS):
        text = data.decode().replace('<?xml version="1.0"?>', declared)
        for encoded in (text.encode("utf-16-be"), text.encode("utf-16")):
            with pytest.raises(UnsafeXmlError, match=r"DTD|entit"):
                parse_xml(encoded)


def test_an_undeclared_entity_is_broken_xml_not_expanded(tmp_path: Path, context) -> None:
    xml = f'<Invoice xmlns="{UBL_NS}"><ID>&secret;</ID></Invoice>'.encode()
    result = process_file(_write(tmp_path, "broken.xml", xml), context)
    assert result.status is Status.FAILED and result.issues[0].code == "corrupt_xml"


# --- read exactly ------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("sample", list(SAMPLES))
def test_generated_invoices_are_read_exactly(tmp_path: Path, context, sample: str, seed: int) -> None:
    build, write, customization, syntax = SAMPLES[sample]
    spec = build(random.Random(seed))
    result = process_file(_write(tmp_path, f"{sample}.xml", write(spec)), context)
    assert _misses(einvoice_truth(spec).normalized, result.data) == []
    assert INVOICE.errors(result.data) == []
    assert (result.status, result.issues) == (Status.OK, [])
    assert set(result.confidence.values()) == {1.0} and result.page_count == 0
    einvoice = result.provenance["einvoice"]
    assert (einvoice["customization"], einvoice["syntax"], einvoice["file"]) == (customization, syntax, True)
    assert result.data["document_subtype"] == ("credit_note" if spec.credit_note else "invoice")
    assert result.data["document_type_code"] == spec.type_code


def test_the_new_fields_come_through(tmp_path: Path, context) -> None:
    spec = xrechnung_ubl_spec(random.Random(0))
    data = process_file(_write(tmp_path, "x.xml", ubl_xml(spec)), context).data
    assert data["buyer_electronic_address"] == ":".join(spec.buyer.endpoint or ())
    assert (data["contract_reference"], data["payment_reference"]) == (spec.contract, spec.number)
    assert data["billing_period_end"] == spec.issued.isoformat() and data["delivery_date"] < data["date"]
    assert data["allowance_total_amount"] == f"{spec.allowance_total:.2f}"
    assert [a["kind"] for a in data["allowances_charges"]] == ["allowance", "charge"]
    assert data["line_items"][0]["line_id"] == "1" and data["line_items"][0]["tax_category"] == "S"
    assert data["payment_terms"] == spec.terms and data["vendor_country"] == "DE"


@needs_facturx
@pytest.mark.parametrize("name", sorted(p.name for p in FACTURX.glob("*.gt.xml")) if FACTURX.is_dir() else [])
def test_the_dev_cii_files_are_read_exactly(context, name: str) -> None:
    result = process_file(FACTURX / name, context)
    gt = json.loads((FACTURX / name.replace(".gt.xml", ".gt.json")).read_text(encoding="utf-8"))
    expected = {**gt["fields"], **gt["fields_normalized"]}
    expected = {
        k: [{a: b for a, b in row.items() if b is not None} for row in v] if isinstance(v, list) else v
        for k, v in expected.items()
        if v not in (None, "", [])
    }
    assert _misses(expected, result.data) == []
    assert result.provenance["einvoice"]["syntax"] in ("CII", "ZUGFeRD 1.0")
    codes = [i.code for i in result.issues]
    assert not [c for c in codes if c.startswith("BR-") or c == "xsd_invalid"], codes  # genuine specimens


# --- syntax: the official XSD ------------------------------------------------------------------------


def test_an_element_out_of_order_breaks_the_xsd_but_the_data_is_read(tmp_path: Path, context) -> None:
    xml = ubl_xml(xrechnung_ubl_spec(random.Random(0)))
    moved = re.sub(rb"(\s*<cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>)", b"", xml, count=1)
    moved = moved.replace(b"<cac:AccountingSupplierParty>", b"<cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>"
                          b"<cac:AccountingSupplierParty>")  # fmt: skip
    result = process_file(_write(tmp_path, "x.xml", moved), context)
    (issue,) = [i for i in result.issues if i.code == "xsd_invalid"]
    assert "ubl-2.1-invoice XSD" in issue.message and "DocumentCurrencyCode" in issue.message
    assert result.status is Status.NEEDS_REVIEW and result.data["currency"] == "EUR"


def test_a_broken_rule_in_the_file_holds_it_for_review(tmp_path: Path, context) -> None:
    xml = cii_xml(xrechnung_cii_spec(random.Random(0)))
    broken = re.sub(rb"<ram:DuePayableAmount>[^<]+<", b"<ram:DuePayableAmount>1.00<", xml)
    result = process_file(_write(tmp_path, "x.xml", broken), context)
    assert [i.code for i in result.issues] == ["BR-CO-16"] and result.status is Status.NEEDS_REVIEW
    assert "reads 1.00" in result.issues[0].message


# --- the readable page and the attached PDF ----------------------------------------------------------


def test_the_view_shows_the_invoice_and_keeps_its_pdf() -> None:
    spec = xrechnung_ubl_spec(random.Random(0))
    files = companions(ubl_xml(spec), "rechnung.xml")
    assert set(files) == {".view.html", ".attachment-1.pdf"}
    assert files[".attachment-1.pdf"] == spec.attachments[0].data and files[".attachment-1.pdf"].startswith(b"%PDF-")
    page = files[".view.html"].decode()
    for shown in (spec.number, spec.seller.name, spec.buyer_reference, spec.iban, f"{spec.total:.2f}",
                  spec.lines[0].name, "XRechnung 3.0", 'href="rechnung.xml.attachment-1.pdf"'):  # fmt: skip
        assert shown in page, shown
    assert "default-src 'none'" in page and "<script" not in page


def test_the_view_escapes_every_byte_of_document_text() -> None:
    spec = xrechnung_ubl_spec(random.Random(0))
    evil = '<script>alert("x")</script> & <img src=x onerror=alert(1)>'
    spec.lines[0] = type(spec.lines[0])(**{**spec.lines[0].__dict__, "name": evil})
    spec.notes = ['"><iframe src="https://example.com">']
    page = companions(ubl_xml(spec), 'a"<b>.xml')[".view.html"].decode()
    assert "<script" not in page and "<img" not in page and "<iframe" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;img" in page


def test_an_invoice_without_attachments_gets_its_page_only() -> None:
    files = companions(cii_xml(xrechnung_cii_spec(random.Random(0))), "x.xml")
    assert list(files) == [".view.html"]
    assert "Exempt" in files[".view.html"].decode()  # the E row's exemption reason


# --- the samples on disk ---------------------------------------------------------------------------

XML_SAMPLES = ["xrechnung_ubl_de", "peppol_ubl_credit_note_ie", "xrechnung_cii_de", "facturx_cii_credit_note_fr"]


def test_the_xml_samples_are_written_with_ground_truth_and_the_same_bytes_each_time(tmp_path: Path) -> None:
    from fixtures.generate import generate

    first = generate(tmp_path / "a", only=XML_SAMPLES)
    again = generate(tmp_path / "b", only=XML_SAMPLES)
    assert [p.name for p in first] == [f"{n}.xml" for n in XML_SAMPLES]
    for a, b in zip(first, again, strict=True):
        assert a.read_bytes() == b.read_bytes()
        gt = json.loads(a.with_name(a.stem + ".gt.json").read_text(encoding="utf-8"))
        assert gt["media"].startswith("XML e-invoice") and gt["pages"] == 0
        assert INVOICE.errors(gt["fields_normalized"]) == []
