"""XML e-invoices through `ledgerlens process` (the Prefect flow) into done/ with their readable
page, and out through every export: credit notes booked the other way round."""

from __future__ import annotations

import csv
import json
import random

import pytest
from fixtures.samples.einvoice_xml import cii_xml, ubl_xml
from fixtures.samples.einvoices import facturx_credit_note_spec, peppol_credit_note_spec, xrechnung_ubl_spec
from openpyxl import load_workbook

pytestmark = pytest.mark.prefect

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE Invoice [<!ENTITY secret SYSTEM "file:///etc/hostname">]>
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"><cbc:ID>&secret;</cbc:ID></Invoice>"""


@pytest.fixture(scope="module")
def books(tmp_path_factory: pytest.TempPathFactory):
    from ledgerlens.pipeline.intake.workspace import init_workspace

    from ledgerlens.cli import main

    ws = init_workspace(tmp_path_factory.mktemp("books"))
    invoice, credit = xrechnung_ubl_spec(random.Random(5)), peppol_credit_note_spec(random.Random(5))
    (ws.intake / "rechnung.xml").write_bytes(ubl_xml(invoice))
    (ws.intake / "gutschrift.dat").write_bytes(ubl_xml(credit))  # the extension does not matter
    (ws.intake / "avoir.xml").write_bytes(cii_xml(facturx_credit_note_spec(random.Random(5))))
    (ws.intake / "evil.xml").write_bytes(XXE)
    assert main(["process", str(ws.intake)]) in (0, 1)
    return ws, invoice, credit


def test_xml_invoices_end_in_done_with_their_page_and_pdf(books) -> None:
    ws, invoice, _ = books
    done = sorted(p.name for p in ws.done.iterdir())
    assert done == [
        "avoir.xml", "avoir.xml.view.html", "gutschrift.dat", "gutschrift.dat.view.html",
        "rechnung.xml", "rechnung.xml.attachment-1.pdf", "rechnung.xml.view.html",
    ]  # fmt: skip
    assert (ws.done / "rechnung.xml.attachment-1.pdf").read_bytes() == invoice.attachments[0].data
    page = (ws.done / "rechnung.xml.view.html").read_text(encoding="utf-8")
    assert invoice.number in page and "XRechnung 3.0" in page


def test_unsafe_xml_fails_and_nothing_of_it_is_stored(books) -> None:
    from ledgerlens.pipeline.books.store import Store

    ws, _, _ = books
    assert sorted(p.name for p in ws.failed.iterdir()) == ["evil.xml", "evil.xml.error.json"]
    note = json.loads((ws.failed / "evil.xml.error.json").read_text())
    assert (note["stage"], note["code"]) == ("load", "unsafe_xml") and "external entity" in note["reason"]
    store = Store.for_workspace(ws.root)
    try:
        evil = next(d for d in store.all() if d.result.source_name == "evil.xml")
    finally:
        store.close()
    assert evil.result.data == {} and "hostname" not in json.dumps(evil.result.data)


def test_show_names_the_e_invoice_and_its_page(books, capsys) -> None:
    from ledgerlens.cli import main

    ws, invoice, _ = books
    capsys.readouterr()
    assert main(["show", "rechnung.xml", "--workspace", str(ws.root), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["view_path"] == "done/rechnung.xml.view.html" and shown["status"] == "ok"
    assert shown["data"]["invoice_number"] == invoice.number
    assert shown["provenance"]["einvoice"]["customization"] == "XRechnung 3.0"
    assert main(["show", "rechnung.xml", "--workspace", str(ws.root)]) == 0
    assert "readable page: done/rechnung.xml.view.html" in capsys.readouterr().out


def test_the_workbook_links_to_the_page(books) -> None:
    from ledgerlens.cli import main

    ws, _, _ = books
    assert main(["export", "--to", "xlsx", "--workspace", str(ws.root)]) == 0
    sheet = load_workbook(ws.root / "exports" / "ledger.xlsx")["Invoices"]
    header = [c.value for c in sheet[1]]
    links = {row[header.index("source_file")].value: row[header.index("source_file")].hyperlink.target
             for row in sheet.iter_rows(min_row=2)}  # fmt: skip
    assert links["rechnung.xml"] == "../done/rechnung.xml.view.html"


def test_every_accounting_export_books_them_and_credit_notes_the_other_way_round(books) -> None:
    from ledgerlens.cli import main

    ws, invoice, credit = books
    assert main(["export", "--to", "journal", "--workspace", str(ws.root)]) == 0
    # The import targets refuse accounts their chart lacks: each gets its starter chart first.
    for fmt, chart in (("quickbooks", "quickbooks-us"), ("xero", "xero-uk"), ("datev", "skr03")):
        assert main(["init", str(ws.root), "--chart", chart, "--force"]) == 0, chart
        assert main(["export", "--to", fmt, "--workspace", str(ws.root), "--allow-incomplete"]) == 0, fmt
    accounting = ws.root / "exports" / "accounting"
    with (accounting / "journal.csv").open(encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    payable = {r["document_ref"]: r for r in rows if r["account"] == "1600"}
    assert payable[invoice.number]["credit"] == f"{invoice.total:.2f}" and payable[invoice.number]["debit"] == ""
    assert payable[credit.number]["debit"] == f"{credit.total:.2f}" and payable[credit.number]["credit"] == ""
    bills = (accounting / "quickbooks_bills.csv").read_text(encoding="utf-8-sig")
    assert invoice.number in bills and credit.number not in bills  # bill imports take invoices only
    datev = b"".join(p.read_bytes() for p in accounting.glob("EXTF_*.csv")).decode("cp1252")
    assert invoice.number in datev and credit.number in datev
