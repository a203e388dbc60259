"""A readable page for an XML invoice, which has none of its own: parties, lines, VAT, totals,
payment, notes and the findings of the checks, like the official visualisations.

The HTML is self-contained (inline style, no script) and forbids loading anything
(Content-Security-Policy `default-src 'none'`); every byte of document text is escaped. The
page and the PDFs the invoice carries (UBL `EmbeddedDocumentBinaryObject`) are kept beside the
XML in done/ as `<name>.view.html` and `<name>.attachment-<n>.pdf` (`companions`; the intake
writes them). Nothing from outside the file is read.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape
from typing import Any

from ledgerlens.pipeline.check.einvoice.model import Attachment, XmlInvoice
from ledgerlens.pipeline.check.einvoice.safe import parse_xml
from ledgerlens.pipeline.check.einvoice.syntax import read_tree
from ledgerlens.pipeline.types import Issue

VIEW_SUFFIX = ".view.html"
TITLES = {
    "credit_note": "Credit note",
    "corrected_invoice": "Corrected invoice",
    "prepayment_invoice": "Prepayment invoice",
}
STYLE = (
    "body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:60em;color:#222}"
    "h1{margin:0}h2{font-size:1.05em;border-bottom:1px solid #ccc;margin-top:1.6em}"
    ".meta{color:#666}.parties{display:flex;gap:3em}.parties>div{flex:1}"
    "table{border-collapse:collapse;width:100%}th,td{padding:.3em .5em;border-bottom:1px solid #eee;text-align:left}"
    "td.n,th.n{text-align:right;white-space:nowrap}dl{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em}"
    "dt{color:#555}.error{color:#a00}.ok{color:#070}.total{font-weight:bold}"
)


def attachment_suffix(n: int) -> str:
    return f".attachment-{n}.pdf"


def view_path(source_path: str | None, provenance: dict[str, Any]) -> str | None:
    """Where an XML invoice's page was kept (workspace-relative, like `source_path`); None for others."""
    if not source_path or not (provenance.get("einvoice") or {}).get("file"):
        return None
    return source_path + VIEW_SUFFIX


def is_pdf(attachment: Attachment) -> bool:
    data = attachment.data or b""
    return attachment.mime_code.lower() == "application/pdf" and b"%PDF-" in data[:1024]


def companions(xml: bytes, file_name: str, issues: Iterable[Issue] = ()) -> dict[str, bytes]:
    """suffix -> bytes of the files kept beside the XML: its page, and each PDF it carries."""
    inv = read_tree(parse_xml(xml))
    pdfs = [i for i, attachment in enumerate(inv.attachments) if is_pdf(attachment)]
    kept = {i: attachment_suffix(n) for n, i in enumerate(pdfs, 1)}
    links = {i: file_name + suffix for i, suffix in kept.items()}
    out = {VIEW_SUFFIX: render_view(inv, list(issues), file_name, links).encode("utf-8")}
    for i, suffix in kept.items():
        out[suffix] = inv.attachments[i].data or b""
    return out


def _e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def _dl(rows: Iterable[tuple[str, Any]]) -> str:
    items = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in rows if v not in (None, ""))
    return f"<dl>{items}</dl>" if items else ""


def _table(head: list[str], rows: list[list[Any]], numeric: set[int]) -> str:
    th = "".join(f"<th{' class=n' if i in numeric else ''}>{_e(h)}</th>" for i, h in enumerate(head))
    body = "".join(
        "<tr>" + "".join(f"<td{' class=n' if i in numeric else ''}>{_e(c)}</td>" for i, c in enumerate(r)) + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _party(f: dict[str, Any], role: str, title: str) -> str:
    address = (f.get(f"{role}_address") or "").split(", ")
    rows = [
        ("Name", f.get(f"{role}_name")),
        *(("Address" if i == 0 else "", line) for i, line in enumerate(address) if line),
        ("VAT id", f.get(f"{role}_vat_id")),
        ("Tax number", f.get("vendor_tax_number") if role == "vendor" else None),
        ("Electronic address", f.get(f"{role}_electronic_address")),
    ]
    return f"<div><h2>{_e(title)}</h2>{_dl(rows)}</div>"


def _lines(f: dict[str, Any], currency: str) -> str:
    head = ["#", "Description", "Quantity", "Unit", f"Unit price {currency}", "VAT", f"Net {currency}"]
    rows = [
        [
            it.get("line_id"),
            it.get("description"),
            it.get("quantity"),
            it.get("unit"),
            it.get("unit_price"),
            " ".join(p for p in (it.get("tax_category"), f"{it['tax_rate']} %" if it.get("tax_rate") else "") if p),
            it.get("amount"),
        ]
        for it in f.get("line_items") or []
    ]
    return f"<h2>Lines</h2>{_table(head, rows, {2, 4, 6})}" if rows else ""


def _allowances(f: dict[str, Any]) -> str:
    rows = [
        [
            a.get("kind"),
            a.get("reason") or a.get("reason_code"),
            a.get("tax_category"),
            a.get("tax_rate"),
            a.get("amount"),
        ]
        for a in f.get("allowances_charges") or []
    ]
    head = ["", "Reason", "VAT category", "VAT rate", "Amount"]
    return f"<h2>Allowances and charges</h2>{_table(head, rows, {3, 4})}" if rows else ""


def _vat(f: dict[str, Any]) -> str:
    rows = [
        [r.get("category"), r.get("rate"), r.get("basis_amount"), r.get("tax_amount"),
         r.get("exemption_reason") or r.get("exemption_reason_code")]
        for r in f.get("tax_breakdown") or []
    ]  # fmt: skip
    head = ["Category", "Rate %", "Taxable amount", "VAT", "Exemption"]
    return f"<h2>VAT breakdown</h2>{_table(head, rows, {1, 2, 3})}" if rows else ""


def _totals(f: dict[str, Any], currency: str) -> str:
    rows = [
        ("Sum of lines", f.get("line_total_amount")),
        ("Allowances", f.get("allowance_total_amount")),
        ("Charges", f.get("charge_total_amount")),
        ("Total without VAT", f.get("net_amount")),
        ("VAT", f.get("tax_amount")),
        ("Total with VAT", f.get("total_amount")),
        ("Paid", f.get("prepaid_amount")),
        ("Rounding", f.get("rounding_amount")),
    ]
    due = f"<p class=total>Amount due: {_e(f.get('amount_due'))} {_e(currency)}</p>" if f.get("amount_due") else ""
    return f"<h2>Totals ({_e(currency)})</h2>{_dl(rows)}{due}"


def _findings(issues: list[Issue]) -> str:
    if not issues:
        return "<p class=ok>The checks found nothing to report.</p>"
    items = "".join(f"<li class=error>{_e(i.code)}: {_e(i.message.removeprefix(i.code + ': '))}</li>" for i in issues)
    return f"<h2>Findings</h2><ul>{items}</ul>"


def _attachments(inv: XmlInvoice, links: dict[int, str]) -> str:
    items = []
    for i, a in enumerate(inv.attachments):
        label = " ".join(p for p in (a.filename, f"({a.mime_code})" if a.mime_code else "", a.description) if p)
        if i in links:
            items.append(f'<li><a href="{_e(links[i].rpartition("/")[2])}">{_e(label or "PDF")}</a></li>')
        else:
            items.append(f"<li>{_e(label or 'attachment')} (not kept: only PDFs are)</li>")
    return f"<h2>Attached documents</h2><ul>{''.join(items)}</ul>" if items else ""


def render_view(inv: XmlInvoice, issues: list[Issue], file_name: str, links: dict[int, str] | None = None) -> str:
    f, currency = inv.fields, str(inv.fields.get("currency") or "")
    title = f"{TITLES.get(str(f.get('document_subtype')), 'Invoice')} {f.get('invoice_number') or ''}".strip()
    details = [
        ("Issue date", f.get("date")),
        ("Due date", f.get("due_date")),
        ("Delivery date", f.get("delivery_date")),
        ("Invoicing period", " – ".join(p for p in (f.get("billing_period_start"), f.get("billing_period_end")) if p)),
        ("Currency", currency),
        ("Buyer reference (Leitweg-ID)", f.get("buyer_reference")),
        ("Order", f.get("order_number")),
        ("Contract", f.get("contract_reference")),
        ("Preceding invoice", f.get("preceding_invoice_number")),
    ]
    payment = [
        ("Payment means", f.get("payment_means_code")),
        ("IBAN", f.get("iban")),
        ("BIC", f.get("bic")),
        ("Payment reference", f.get("payment_reference")),
        ("Terms", f.get("payment_terms")),
    ]
    notes = "".join(f"<p>{_e(n)}</p>" for n in inv.notes)
    meta = f"{inv.customization} · {inv.syntax} · type code {inv.type_code or '?'}"
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>"
        f"<header><h1>{_e(title)}</h1><p class=meta>{_e(meta)}</p></header>"
        f"{_findings(issues)}"
        f"<section class=parties>{_party(f, 'vendor', 'Seller')}{_party(f, 'buyer', 'Buyer')}</section>"
        f"<h2>Details</h2>{_dl(details)}{_lines(f, currency)}{_allowances(f)}{_vat(f)}{_totals(f, currency)}"
        f"<h2>Payment</h2>{_dl(payment)}{'<h2>Notes</h2>' + notes if notes else ''}{_attachments(inv, links or {})}"
        f"<footer class=meta><p>Rendered by ledgerlens from {_e(file_name)}: the XML is the invoice.</p></footer>"
        "</body></html>\n"
    )
