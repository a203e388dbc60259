"""Statement transactions: the bookings table of a bank or card statement, page by page.

The table is found by its header row: a date column ("Date", "Buchung", "Fecha", ...) and at
least two more (text, amount, debit/credit, balance). Below it, a row that starts with a date
and holds an amount is a booking; its amount's column says its sign (debit, credit, or a signed
amount; a card statement prints spending positive and credits with CR); a number under the
balance column is the running balance. What is not a booking:
- rows labelled as balances (opening, closing, carried over) and rows whose only number sits in
  the balance column (an unlabelled "brought forward");
- rows without an amount: right under a booking, inside its text column, they continue its
  description (a reference, an IBAN on a second line).

Dates printed without a year ("02.07.", "2 Jul") take the year that puts them inside the
statement period, so a December-to-January statement gets both years right.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import cache
from typing import Any

from ledgerlens.pipeline.engines.ocr.finder.header import _labelled as labelled
from ledgerlens.pipeline.engines.ocr.finder.tables import COLUMN_WORDS, Column, _classify, _is_stop, table_header
from ledgerlens.pipeline.engines.ocr.finder.values import FoundAmount, amounts_in
from ledgerlens.pipeline.engines.ocr.finder.view import DocView, read_confidence
from ledgerlens.pipeline.normalize import MONTHS, find_dates, fold, format_amount
from ledgerlens.pipeline.read.layout import Row
from ledgerlens.pipeline.types import Word

# Rows that carry a balance, not a movement of money.
_BALANCE_LABELS = {"opening_balance", "closing_balance", "carry_over"}
# Date headings of statement tables that line-item tables never use.
_DATE_HEADINGS = {"buchung", "buchungsdatum", "buchungstag", "wert", "valeur", "date operation", "fecha operacion"}
_DAY_MONTH = re.compile(
    r"^(?P<d>\d{1,2})[./\-](?P<m>\d{1,2})(?:[./\-](?P<y>\d{2,4}))?\.?$|"
    r"^(?P<y2>\d{4})-(?P<m2>\d{2})-(?P<d2>\d{2})$"
)
_CARD = re.compile(
    r"credit card|card statement|minimum (payment|due)|credit limit|kreditkarte|tarjeta de credito|carte de credit"
)
Period = tuple[date, date]


def is_card_statement(view: DocView) -> bool:
    """Card statements print spending as positive amounts (and the balance owed likewise)."""
    return bool(_CARD.search(fold(" ".join(r.text for r in view.rows[:200]))))


@cache
def _date_heading() -> re.Pattern[str]:
    words = {fold(w).strip(" .:") for cls, ws in COLUMN_WORDS if cls == "date" for w in ws} | _DATE_HEADINGS
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<![a-z])(?:{alternatives})(?![a-z])")


def statement_header(row: Row) -> list[Column] | None:
    """The columns of a bookings table's header row, or None: it must have a date column."""
    if not _date_heading().search(fold(row.text)):
        return None  # most rows: no date heading, no need to classify their cells
    cols = table_header(row)
    if cols and any(c.cls == "date" for c in cols):
        return cols
    found: list[Column] = []
    for seg in row.segments:
        text = fold(seg.text).strip(" .:")
        cls = "date" if text in _DATE_HEADINGS else _classify(seg.text)
        if cls and not any(c.cls == cls for c in found):
            found.append(Column(cls, seg.x0, seg.x1))
    return found if len(found) >= 3 and any(c.cls == "date" for c in found) else None


def _year_for(month: int, day: int, year_hint: int | None, month_hint: int | None, period: Period | None) -> int | None:
    if period is not None:
        start, end = period
        slack = timedelta(days=31)
        for year in sorted({end.year, start.year}, reverse=True):
            value = _mk(year, month, day)
            if value is not None and start - slack <= value <= end + slack:
                return year
    if year_hint is None:
        return None
    return year_hint - 1 if month_hint is not None and month > month_hint + 1 else year_hint


def _row_date(
    words: list[Word], year_hint: int | None, month_hint: int | None, period: Period | None = None
) -> tuple[date, int] | None:
    """A date at the start of a row ("02/07", "02.07.2023", "2 Jul") -> (date, words used)."""
    if not words:
        return None
    first = words[0].text.strip()
    m = _DAY_MONTH.match(first)
    if m:
        if m.group("y2"):
            iso = _mk(int(m["y2"]), int(m["m2"]), int(m["d2"]))
            return (iso, 1) if iso else None
        d, mo = int(m["d"]), int(m["m"])
        y = int(m["y"]) if m["y"] else None
        if y is not None and y < 100:
            y += 2000
        used = 1
    elif (named := _day_month_name(words)) is not None:
        d, mo, used = named
        y = None
        if len(words) > used and re.fullmatch(r"\d{4}", words[used].text):
            y, used = int(words[used].text), used + 1
    else:
        return None
    if y is None:
        y = _year_for(mo, d, year_hint, month_hint, period)
        if y is None:
            return None
    value = _mk(y, mo, d)
    return (value, used) if value else None


_NAMED = re.compile(r"^([0-9OoIil|]{1,2})[\W_]?([^\W\d_]{2,10})\.?$")
_J_MISREAD = (")", "]", "}", "|")
_OCR_DIGITS = str.maketrans({"O": "0", "o": "0", "I": "1", "i": "1", "l": "1", "|": "1"})


def _day_month_name(words: list[Word]) -> tuple[int, int, int] | None:
    """ "2 Jul", and what the OCR makes of it: "02Jul", "05)Jan", "lijan" (11 Jan), "08 J an"."""
    for n in (1, 2, 3):
        if len(words) < n:
            break
        m = _NAMED.match("".join(w.text for w in words[:n]))
        if m is None:
            continue
        month = MONTHS.get(fold(m[2]))
        sep = m[0][len(m[1]) : len(m[0]) - len(m[2])].rstrip(".")
        if month is None and sep in _J_MISREAD and fold(m[2]) in ("an", "un", "ul"):
            month = MONTHS.get("j" + fold(m[2]))  # "03)an": the J of Jan read as a bracket
        day = m[1].translate(_OCR_DIGITS)
        if month is not None and day.isdigit() and 1 <= int(day) <= 31:
            return int(day), month, n
    return None


def holder_candidates(view: DocView) -> list:
    """The account holder beside its label: a name of up to eight words ("Müller & Söhne
    Maschinenbau KG"), never a label or number of the next row."""

    def parse(words: list[Word]) -> tuple[str, list[Word]] | None:
        if not words or len(words) > 8 or any(c.isdigit() for w in words for c in w.text):
            return None
        text = " ".join(w.text for w in words).strip(" :")
        return (text, words) if 2 <= len(text) <= 70 else None

    return labelled(view, "account_holder", parse, below=0)


def period_fallback(view: DocView, *, day_first: bool) -> Period | None:
    """The period from a row naming it, when the OCR split a month name ("14 J an 2025")."""
    for row in view.rows[:80]:
        text = fold(row.text)
        if not re.search(r"period|zeitraum|periode|periodo", text):
            continue
        joined = re.sub(r"\b([A-Za-z])\s([a-z]{2,3})\b", r"\1\2", row.text)
        joined = re.sub(r"(\d)\s?[)\]}|]\s?(an|un|ul)\b", r"\1 J\2", joined)  # "1) an 2025": J read as ")"
        found = find_dates(joined, day_first=day_first)
        if len(found) >= 2 and found[0].value <= found[1].value:
            return found[0].value, found[1].value
    return None


def _mk(y: int, m: int, d: int) -> date | None:
    try:
        return date(y, m, d)
    except ValueError:
        return None


@dataclass
class Txn:
    data: dict[str, Any]
    confidence: float
    page: int
    row: Row


class _Table:
    """The reading state of one page's bookings table."""

    def __init__(self, cols: list[Column], unit: float) -> None:
        self.cols = {c.cls: c for c in cols}
        # Where the text column starts: its heading, else right of the date column.
        text = [c.x0 for c in cols if c.cls == "description"]
        self.text_x0 = text[0] if text else max((c.x1 for c in cols if c.cls == "date"), default=None)
        self.unit = unit

    def in_balance_column(self, a: FoundAmount) -> bool:
        col = self.cols.get("balance")
        return col is not None and col.holds(a.words[-1], 2 * self.unit)

    def continues(self, row: Row, last: Txn | None) -> bool:
        """A row without an amount right under a booking, inside the text column."""
        if last is None or last.row.page != row.page or self.text_x0 is None:
            return False
        gap = row.y0 - last.row.y1
        return 0 <= gap <= 1.2 * self.unit and row.words[0].x0 >= self.text_x0 - 2 * self.unit


def statement_transactions(
    view: DocView,
    decimal_sep: str | None,
    *,
    day_first: bool,
    statement_date: date | None,
    period: Period | None = None,
) -> list[Txn]:
    year = statement_date.year if statement_date else _common_year(view)
    month = statement_date.month if statement_date else None
    card = is_card_statement(view)
    txns: list[Txn] = []
    pending: list[Txn] = []  # undated rows waiting for the next dated one
    for page_idx, lay in enumerate(view.layouts):
        table: _Table | None = None
        last: Txn | None = None  # the booking a wrapped text line would belong to
        for row in lay.rows:
            header = statement_header(row)
            if header:
                table, last = _Table(header, lay.unit), None
                continue
            if table is None:
                continue
            if _is_stop(view, row) or any(h.fields & _BALANCE_LABELS for h in view.labels[id(row)]):
                last = None
                continue
            got = _row_date(row.words, year, month, period)
            rest = row.words[got[1] if got else 0 :]
            while rest and (value_date := _row_date(rest, year, month, period)):  # a value date beside the booking date
                rest = rest[value_date[1] :]
            amounts = [a for a in amounts_in(rest, decimal_sep=decimal_sep) if a.has_decimals]
            if not amounts:
                if not got and table.continues(row, last) and last is not None:
                    last.data["description"] = (last.data["description"] + "\n" + row.text)[:500]
                    last.row = row
                continue
            if not got and all(table.in_balance_column(a) for a in amounts):
                last = None  # "brought forward 1,234.56" without a label we know: a balance, not a booking
                continue
            desc = " ".join(w.text for w in rest if w.x1 <= amounts[0].words[0].x0).strip()
            if not desc:
                continue
            amount, balance = _signed(amounts, table, card)
            data: dict[str, Any] = {"date": None, "description": desc[:500], "amount": format_amount(amount)}
            if balance is not None:
                data["balance"] = format_amount(balance)
            txn = Txn(data, 0.85 * read_confidence(row.words), page_idx, row)
            last = txn
            if got:
                data["date"] = got[0].isoformat()
                for p in pending:
                    p.data["date"] = data["date"]
                    p.confidence *= 0.8
                pending = []
            elif txns and txns[-1].data["date"] and not pending:
                data["date"] = txns[-1].data["date"]
                txn.confidence *= 0.8
            else:
                pending.append(txn)
            txns.append(txn)
    dated = [t for t in txns if t.data["date"]]
    repair_from_balances(dated)
    return dated


def repair_from_balances(txns: list[Txn]) -> int:
    """Amounts the OCR misread where the running balance proves the right one: the printed
    balances before and after the row differ by something other than the amount read (and the
    amounts read do not agree across the row, which would make its balance the misreading).
    Only a lost sign ("-37.13" read "37.13") or one extra leading digit (a "+"
    read as "4": "+2,388.82" -> "42,388.82") is repaired; returns how many rows were."""
    repaired = 0
    for i in range(1, len(txns)):
        prev, row = txns[i - 1].data, txns[i].data
        if "balance" not in prev or "balance" not in row:
            continue
        amount, diff = Decimal(row["amount"]), Decimal(row["balance"]) - Decimal(prev["balance"])
        if amount == diff or diff == 0:
            continue
        nxt = txns[i + 1].data if i + 1 < len(txns) else None
        if nxt is not None and "balance" in nxt:
            across = Decimal(nxt["balance"]) - Decimal(prev["balance"])
            if across == amount + Decimal(nxt["amount"]):
                continue  # both amounts agree across the row: its printed balance is the misreading
        read, wanted = f"{abs(amount):.2f}", f"{abs(diff):.2f}"
        if read == wanted or (len(read) == len(wanted) + 1 and read.endswith(wanted)):
            row["amount"] = format_amount(diff)
            txns[i].confidence *= 0.75
            repaired += 1
    return repaired


def _signed(amounts: list[FoundAmount], table: _Table, card: bool) -> tuple[Decimal, Decimal | None]:
    kinds, unit = table.cols, table.unit
    balance = None
    picked = amounts
    if len(amounts) >= 2 and table.in_balance_column(amounts[-1]):
        balance = amounts[-1].amount.value
        picked = amounts[:-1]
    a = picked[-1] if picked else amounts[-1]
    value = a.amount.value
    if a.amount.marker == "CR":
        value = abs(value)
    elif a.amount.marker == "DR" or ("debit" in kinds and kinds["debit"].holds(a.words[-1], 2 * unit)):
        value = -abs(value)
    elif "credit" in kinds and kinds["credit"].holds(a.words[-1], 2 * unit):
        value = abs(value)
    elif card:
        value = -value  # card statements print spending as positive and credits in brackets
    return value, balance


def _common_year(view: DocView) -> int | None:
    years = [int(y) for r in view.rows for y in re.findall(r"(?<!\d)(20\d{2})(?!\d)", r.text)]
    return max(set(years), key=years.count) if years else None
