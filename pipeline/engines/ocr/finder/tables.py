"""Tables: invoice line items (statement transactions: `statements.py`).

A table is found by its header row (Description / Qty / Unit price / Amount in any of our
languages); the header's segments give the columns. Rows below are read until the totals
start. A row without an amount continues the description above it (wrapped text).
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any

from ledgerlens.pipeline.engines.ocr.finder.values import amounts_in, money_in, percent_in
from ledgerlens.pipeline.engines.ocr.finder.view import DocView, read_confidence
from ledgerlens.pipeline.normalize import fold, format_amount, format_quantity
from ledgerlens.pipeline.read.layout import Row
from ledgerlens.pipeline.types import Word

COLUMN_WORDS: list[tuple[str, tuple[str, ...]]] = [
    ("position", ("pos", "pos.", "#", "line", "lfd. nr", "item no", "no.")),
    ("unit_price", ("unit price", "price per", "unit cost", "einzelpreis", "e-preis", "ep ", "stuckpreis",
                    "nettopreis", "bruttopreis", "preis/einheit", "preis je einheit",
                    "precio unitario", "precio unit", "prix unitaire", "p.u", "pu ht", "prix unit",
                    "prijs per", "prezzo unitario", "vk-preis", "rate", "price", "preis", "precio", "prix",
                    "prijs", "unit amount", "net price")),
    ("quantity", ("qty", "quantity", "menge", "anzahl", "cantidad", "cant.", "quantite", "qte", "aantal",
                  "quantita", "pcs", "stk", "units", "qte.")),
    ("description", ("description", "item", "article", "artikel", "bezeichnung", "beschreibung", "leistung",
                     "descripcion", "concepto", "designation", "libelle", "omschrijving", "product",
                     "produkt", "particulars", "details", "service", "descrizione", "prestation")),
    ("amount", ("amount", "total", "line total", "betrag", "gesamt", "gesamtpreis", "importe", "montant",
                "nettobetrag", "bruttobetrag", "positionsbetrag", "betrag netto", "montant ht", "total ht",
                "total ht", "bedrag", "zeilenbetrag", "net amount", "subtotal", "importe total",
                "totaal", "importo", "summe", "value", "price incl", "prijs incl", "bedrag excl", "bedrag incl")),
    ("unit", ("unit", "einheit", "unidad", "unite", "uom", "eh")),
    ("tax", ("vat", "tax", "mwst", "iva", "tva", "btw", "taxes", "ust", "gst", "steuersatz", "ust-satz",
             "mwst-satz", "taux", "tipo iva", "vat %", "tax %")),
    ("date", ("date", "datum", "fecha", "transaction date", "posting date", "value date", "buchungstag",
              "valuta", "fecha valor", "date operation", "post date", "trans date")),
    ("debit", ("debit", "debits", "withdrawal", "withdrawals", "paid out", "money out", "soll", "lastschrift",
               "cargo", "cargos", "debe", "out")),
    ("credit", ("credit", "credits", "deposit", "deposits", "paid in", "money in", "haben", "gutschrift",
                "abono", "abonos", "haber", "in")),
    ("balance", ("balance", "saldo", "solde", "kontostand")),
]  # fmt: skip
# Where an invoice table ends. A "Subtotal" inside the table (per section) does not end it.
_STOP_LABELS = {"total_amount", "tax_amount", "amount_due", "tax_summary", "line_total_amount"}
# Labels of lines that carry an amount which is not an item's (totals, tax, payments, rounding).
_MONEY_LABELS = frozenset(
    {*_STOP_LABELS, "net_amount", "prepaid_amount", "payment_cash", "payment_change", "ignore", "discount"}
)


@cache
def _column_patterns() -> list[tuple[str, re.Pattern[str]]]:
    """One compiled pattern per column class (the heading words as whole words), built once."""
    return [
        (cls, re.compile("|".join(r"(?<![a-z])" + re.escape(w.strip()) + r"(?![a-z])" for w in words)))
        for cls, words in COLUMN_WORDS
    ]


def _classify(text: str) -> str | None:
    t = " " + fold(text).strip(" :") + " "
    for cls, pattern in _column_patterns():
        if pattern.search(t):
            return cls
    return None


@dataclass
class Column:
    cls: str
    x0: float
    x1: float

    def holds(self, w: Word, slack: float) -> bool:
        return self.x0 - slack <= (w.x0 + w.x1) / 2 <= self.x1 + slack


@cache
def _phrases() -> dict[str, str]:
    """Heading phrase (folded) -> column class; the first class listing a phrase wins."""
    out: dict[str, str] = {}
    for cls, words in COLUMN_WORDS:
        for w in words:
            out.setdefault(fold(w).strip(" .:"), cls)
    return out


def _heading_columns(seg_words: list[Word]) -> list[Column]:
    """Columns in one header cell, word by word: "Aantal Prijs per stuk" holds two headings."""
    phrases = _phrases()
    cols: list[Column] = []
    i = 0
    while i < len(seg_words):
        for n in (3, 2, 1):
            chunk = seg_words[i : i + n]
            key = fold(" ".join(w.text for w in chunk)).strip(" .:")
            if len(chunk) == n and key in phrases:
                cols.append(Column(phrases[key], chunk[0].x0, chunk[-1].x1))
                i += n
                break
        else:
            if cols:  # an unmatched word ("per stuk") belongs to the heading before it
                cols[-1].x1 = seg_words[i].x1
            i += 1
    return cols


def table_header(row: Row) -> list[Column] | None:
    cols: list[Column] = []
    for seg in row.segments:
        found = _heading_columns(seg.words)
        if not found:
            cls = _classify(seg.text)
            found = [Column(cls, seg.x0, seg.x1)] if cls else []
        for col in found:
            if not any(c.cls == col.cls for c in cols):
                cols.append(col)
    kinds = {c.cls for c in cols}
    if len(cols) >= 3 or (len(cols) == 2 and "description" in kinds and kinds & {"amount", "unit_price"}):
        return cols
    return None


def _assign(words: list[Word], cols: list[Column], unit: float) -> dict[str, list[Word]]:
    """Each word to the header column that covers it, else to the nearest by edge."""
    out: dict[str, list[Word]] = {}
    for w in words:
        cx = (w.x0 + w.x1) / 2
        col = min(cols, key=lambda c: 0.0 if c.holds(w, unit) else min(abs(cx - c.x0), abs(cx - c.x1)))
        out.setdefault(col.cls, []).append(w)
    return out


@dataclass
class Item:
    data: dict[str, Any]
    confidence: float
    page: int


def _is_stop(view: DocView, row: Row) -> bool:
    return any(h.fields & _STOP_LABELS and any(lb.strong for lb in h.labels) for h in view.labels[id(row)])


def _quantity(words: list[Word]) -> tuple[Decimal | None, str | None]:
    qty, unit = None, []
    for w in words:
        m = re.fullmatch(r"(-?\d+(?:[.,]\d+)?)([a-zA-Z]*)", w.text.strip())
        if m and qty is None:
            qty = Decimal(m.group(1).replace(",", "."))
            if m.group(2):
                unit.append(m.group(2))
        elif w.text.isalpha():
            unit.append(w.text)
    return qty, (" ".join(unit) or None)


def _gap_limit(pitches: list[float], unit: float) -> float:
    """How far below the last row a table may go on: a few times its row pitch. A wider gap
    ends it (notes, the page footer); so does a new page without the table's heading."""
    if not pitches:
        return 6.0 * unit
    return max(3.0 * statistics.median(pitches), 4.0 * unit)


def line_items(view: DocView, decimal_sep: str | None) -> list[Item]:
    items: list[Item] = []
    cols: list[Column] | None = None
    for page_idx, lay in enumerate(view.layouts):
        unit = lay.unit
        last_y: float | None = None
        pitches: list[float] = []
        for row in lay.rows:
            header = table_header(row)
            if header:  # (a heading repeated on each page opens the table there again)
                # On an invoice a "Credit"/"Debit" column is the line amount (credit notes).
                cols = [Column("amount", c.x0, c.x1) if c.cls in ("credit", "debit") else c for c in header]
                last_y, pitches = row.y1, []
                continue
            if cols is None or id(row) in view.furniture:
                continue  # running headers and footers cut through tables that cross pages
            if last_y is not None and row.y0 - last_y > _gap_limit(pitches, unit):
                cols = None
                continue
            if _is_stop(view, row):
                cols = None
                continue
            if last_y is not None:
                pitches.append(row.y0 - last_y)
            last_y = row.y1
            item = _table_row(view, row, cols, unit, decimal_sep)
            if isinstance(item, list):  # a row without an amount: the description above goes on
                if items and item and items[-1].page == page_idx:
                    items[-1].data["description"] += "\n" + " ".join(w.text for w in item)
                continue
            if item is not None:
                items.append(Item(item[0], item[1], page_idx))
    return items


def _table_row(
    view: DocView, row: Row, cols: list[Column], unit: float, decimal_sep: str | None
) -> tuple[dict[str, Any], float] | list[Word] | None:
    """One row under a table heading: (item data, confidence), or the description words of a
    row without an amount (wrapped text), or None for a row that is no item."""
    if row.text.lstrip().startswith(("--", "==", "**")) or any("net_amount" in h.fields for h in view.labels[id(row)]):
        return None  # "--- Food Products ---", "Subtotal $ 112.00": structure, not items
    parts = _assign(row.words, cols, unit)
    amount_words = parts.get("amount") or []
    amt = money_in(amount_words, decimal_sep=decimal_sep) if amount_words else None
    if amt is not None and decimal_sep is not None and not amt.has_decimals:
        amt = None  # where amounts have decimals, a bare number (a document number) is no line amount
    desc_words = parts.get("description", [])
    if amt is None:
        return desc_words
    if not desc_words:
        return None
    data: dict[str, Any] = {"description": " ".join(w.text for w in desc_words)}
    qty, qty_unit = _quantity(parts.get("quantity", []))
    price = money_in(parts.get("unit_price", []), decimal_sep=decimal_sep)
    if qty is not None:
        data["quantity"] = format_quantity(qty)
    unit_words = parts.get("unit")
    if unit_words:
        data["unit"] = " ".join(w.text for w in unit_words)[:80]
    elif qty_unit:
        data["unit"] = qty_unit[:80]
    if price is not None:
        data["unit_price"] = format_amount(price.amount.value)
    rate = percent_in(" ".join(w.text for w in parts.get("tax", [])))
    if rate is not None:
        data["tax_rate"] = format_amount(rate)
    data["amount"] = format_amount(amt.amount.value)
    conf = read_confidence(row.words)
    if qty is not None and price is not None:
        agrees = abs(qty * price.amount.value - amt.amount.value) <= Decimal("0.01") * max(Decimal(1), qty)
        conf *= 1.0 if agrees else 0.7
    return data, 0.8 * conf


# ------------------------------------------------------------------ receipts

_QTY_LINE = re.compile(r"^\s*(\d+(?:[.,]\d+)?)\s*(?:[xX×*@]|pcs?\b|stk\b)\s*(?:@\s*)?(.*)$")
_LEADING_QTY = re.compile(r"^(\d{1,3})\s*[xX×]?\s+(?=\D)")


def _prices(item: Item, qty_line: re.Match[str], price: Any) -> bool:
    """Does "2 @ 5.64" price this item (2 × 5.64 = its amount)? If so, it gets quantity and unit price."""
    qty = Decimal(qty_line.group(1).replace(",", "."))
    if "quantity" in item.data or qty * price.amount.value != Decimal(item.data["amount"]):
        return False
    item.data["quantity"] = format_quantity(qty)
    item.data["unit_price"] = format_amount(price.amount.value)
    return True


def receipt_items(view: DocView, decimal_sep: str | None) -> list[Item]:
    """Till-receipt lines without a table header:

        EGG GRADE A 10S               LED BULB A19 4PK     9.80     1 Scone, Jam & Cream  £4.28
        2 X 4.94          9.88        CAULK WHITE 10OZ    11.28
                                      2 @ 5.64

    Items run from the first priced line to the first total, tax or payment line.
    """
    items: list[Item] = []
    pending: list[Word] = []  # a description waiting for its "2 x 4.94   9.88" line
    for page_idx, lay in enumerate(view.layouts):
        for row in lay.rows:
            labels = view.labels[id(row)]
            if _is_stop(view, row) or any(h.fields & {"payment_cash", "payment_change", "net_amount"} for h in labels):
                return items if items else []
            found = [a for a in amounts_in(row.words, decimal_sep=decimal_sep) if a.has_decimals]
            qty_line = _QTY_LINE.match(row.text)
            # Weak labels inside a description ("#8" in "WOOD SCREWS #8", "of" in "Pot of Tea") are words.
            labels = [h for h in labels if any(lb.strong for lb in h.labels) or h.fields & _MONEY_LABELS]
            if qty_line and not pending and items and len(found) == 1 and _prices(items[-1], qty_line, found[0]):
                continue  # "2 @ 5.64" under the line it prices: quantity × unit price = its amount
            if qty_line and (pending or (items and not found)):
                qty = Decimal(qty_line.group(1).replace(",", "."))
                prices = [a.amount.value for a in found]
                if pending and prices:
                    data = {"description": " ".join(w.text for w in pending), "quantity": format_quantity(qty)}
                    if len(prices) >= 2:
                        data["unit_price"] = format_amount(prices[0])
                    data["amount"] = format_amount(prices[-1])
                    if len(prices) == 1 and qty:
                        data["unit_price"] = format_amount(prices[-1] / qty)
                    items.append(Item(data, 0.7 * read_confidence(row.words), page_idx))
                    pending = []
                elif items and not found:  # "2 @ 5.64" under an item already priced
                    price = amounts_in(row.words[1:], decimal_sep=decimal_sep)
                    items[-1].data["quantity"] = format_quantity(qty)
                    if price:
                        items[-1].data["unit_price"] = format_amount(price[-1].amount.value)
                continue
            if not found:
                letters = sum(c.isalpha() for c in row.text)
                pending = list(row.words) if letters >= 3 and not labels else []
                continue
            desc_words = [w for w in row.words if w.x1 <= found[0].words[0].x0]
            desc = " ".join(w.text for w in desc_words).strip()
            if sum(c.isalpha() for c in desc) < 3 or labels:
                pending = []
                continue
            data = {}
            lead = _LEADING_QTY.match(desc)
            if lead:
                data["quantity"] = lead.group(1)
                desc = desc[lead.end() :]
            items.append(Item({"description": desc, **data, "amount": format_amount(found[-1].amount.value)},
                              0.7 * read_confidence(row.words), page_idx))  # fmt: skip
            pending = []
    return []  # no total line seen: these were not items
