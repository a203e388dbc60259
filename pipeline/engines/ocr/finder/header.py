"""Header fields: document number, dates, references, tax ids, IBAN, BIC, currency."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date

from ledgerlens.pipeline.engines.ocr.finder.lexicon import LabelHit
from ledgerlens.pipeline.engines.ocr.finder.values import date_in, identifier_in, repaired_date
from ledgerlens.pipeline.engines.ocr.finder.view import Candidate, DocView, read_confidence
from ledgerlens.pipeline.normalize import (
    CURRENCY_SYMBOLS,
    IBAN_COUNTRY_CURRENCY,
    compact_id,
    find_dates,
    fold,
    iban_is_valid,
    iso_currencies,
)
from ledgerlens.pipeline.read.layout import Row
from ledgerlens.pipeline.types import Word

# EU VAT ids (and GB, CH, NO), compact form. Checked against a window of 1-6 words joined.
VAT_RE = re.compile(
    r"^(?:ATU\d{8}|BE[01]\d{9}|BG\d{9,10}|CY\d{8}[A-Z]|CZ\d{8,10}|DE\d{9}|DK\d{8}|EE\d{9}|EL\d{9}"
    r"|ES[A-Z0-9]\d{7}[A-Z0-9]|FI\d{8}|FR[A-HJ-NP-Z0-9]{2}\d{9}|HR\d{11}|HU\d{8}|IE\d{7}[A-W][A-I]?"
    r"|IE\d[A-Z+*]\d{5}[A-W]|IT\d{11}|LT(?:\d{9}|\d{12})|LU\d{8}|LV\d{11}|MT\d{8}|NL\d{9}B\d{2}"
    r"|PL\d{10}|PT\d{9}|RO\d{2,10}|SE\d{12}|SI\d{8}|SK\d{10}|XI\d{9}|GB(?:\d{9}|\d{12}|GD\d{3}|HA\d{3})"
    r"|CHE\d{9}(?:MWST|TVA|IVA)?|NO\d{9}MVA)$"
)
_SYMBOL_RE = re.compile(r"(?<![A-Za-z])(RM|Rs\.?|S\$|US\$|€|£|₹|¥)(?![A-Za-z])")
IBAN_RE = re.compile(r"^[A-Z]{2}\d{2}[A-Z0-9]{10,30}$")
BIC_RE = re.compile(r"^[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}(?:[A-Z0-9]{3})?$")
_GENERIC_ID_RE = re.compile(r"^[A-Z0-9][A-Z0-9./\-]{5,20}$")
_NUMBER_STOP = re.compile(r"^(?:date|datum|fecha|du|vom|of|le|dated)$", re.IGNORECASE)


def _labelled(view: DocView, field: str, parse, *, below: int = 2) -> list[Candidate]:
    """Candidates for `field` from every label of it, scored by label strength × position."""
    out: list[Candidate] = []
    for hit in view.hits(field):
        strength = hit.strength(field)
        # A weak label (a title, "No") only vouches for a value printed right after it, unless
        # it is one heading of a row of headings with the values underneath.
        reach = below if strength == 1.0 or view.is_header_row(hit.row) else 0
        for region in view.regions(hit, below=reach):
            got = parse(region.words)
            if got is None:
                continue
            value, used = got
            score = strength * region.position * read_confidence(used)
            cand = Candidate(field, value, score, region.row, used, "label:" + " ".join(hit.phrase))
            cand.extra["label_row"] = hit.row
            out.append(cand)
            break  # the nearest readable region is this label's value
    return sorted(out, key=lambda c: -c.score)


def document_number(view: DocView) -> list[Candidate]:
    def parse(words: list[Word]) -> tuple[str, list[Word]] | None:
        # "Invoice 2025-001 dated ..." : stop at words that start another statement.
        cut = next((i for i, w in enumerate(words) if _NUMBER_STOP.match(w.text.strip(":"))), len(words))
        return identifier_in(words[:cut])

    return _labelled(view, "invoice_number", parse)


def reference(view: DocView, field: str) -> list[Candidate]:
    def parse(words: list[Word]) -> tuple[str, list[Word]] | None:
        found = identifier_in(words, max_words=3)
        if found is None and words and len(words) <= 4:
            text = " ".join(w.text for w in words).strip(" :")
            return (text, words) if 2 <= len(text) <= 60 else None
        return found

    return _labelled(view, field, parse, below=1)


def dated(view: DocView, field: str, *, day_first: bool) -> list[Candidate]:
    cands = _labelled(view, field, lambda ws: date_in(ws, day_first=day_first))
    if not cands:  # nothing readable: try the OCR repairs, at a confidence that asks for review
        cands = _labelled(view, field, lambda ws: repaired_date(ws, day_first=day_first))
        for c in cands:
            c.score = min(c.score, 0.45)
            c.source += " (repaired)"
    for c in cands:
        label = c.source.split(":")[1]
        label_row = c.extra.get("label_row")
        under_heading = label_row is not None and c.row.index == label_row.index + 1 and view.is_header_row(label_row)
        if label in ("date", "datum", "fecha", "data", "dt") and (c.row is label_row or under_heading):
            # "DATE : 15/05/2018", or "Date" heading a row of headings with the values under them:
            # a plain date label with a date right by it is plain evidence.
            c.score = min(1.0, c.score * 1.6)
        elif label in ("vom", "von", "du", "del", "of", "dated") and any(
            "invoice_number" in h.fields for h in view.labels[id(c.row)]
        ):
            # "Invoice 471102 of 15.11.2024": a weak date label on the document number's row.
            c.score = min(1.0, c.score * 1.6)
    return sorted(cands, key=lambda c: -c.score)


def period(view: DocView, *, day_first: bool) -> list[Candidate]:
    """A statement period: two dates after a period label ("01.01.2025 bis 31.01.2025")."""

    def parse(words: list[Word]) -> tuple[tuple[date, date], list[Word]] | None:
        found = find_dates(" ".join(w.text for w in words), day_first=day_first)
        if len(found) >= 2 and found[0].value <= found[1].value:
            return (found[0].value, found[1].value), words
        return None

    return _labelled(view, "statement_period", parse, below=1)


def all_dates(view: DocView, *, day_first: bool) -> list[Candidate]:
    """Every date on the pages, top to bottom: the fallback for an unlabelled issue date."""
    out = []
    for row in view.rows:
        got = date_in(row.words, day_first=day_first)
        if got:
            out.append(Candidate("date", got[0], 0.4, row, got[1], "pattern:date"))
    if not out:  # no date anywhere: one the OCR damaged ("171012018"), for review
        for row in view.rows:
            got = repaired_date(row.words, day_first=day_first)
            if got:
                out.append(Candidate("date", got[0], 0.35, row, got[1], "pattern:date (repaired)"))
                break
    return out


def guess_day_first(view: DocView) -> bool:
    """Day-first unless the page shows a US-style date (middle number > 12) and none day-first."""
    us = eu = 0
    for row in view.rows:
        for m in re.finditer(r"(?<!\d)(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2,4})(?!\d)", row.text):
            a, b = int(m.group(1)), int(m.group(2))
            if a > 12 >= b:
                eu += 1
            elif b > 12 >= a:
                us += 1
    return not (us > eu)


def _windows(row: Row, max_words: int) -> list[tuple[str, list[Word]]]:
    out = []
    for i in range(len(row.words)):
        for n in range(1, max_words + 1):
            chunk = row.words[i : i + n]
            if len(chunk) < n:
                break
            out.append((compact_id("".join(w.text.strip(":;,()") for w in chunk)), chunk))
    return out


_LETTER_LOOKALIKES = str.maketrans("10582", "IOSBZ")


def _as_vat(text: str) -> str | None:
    """A VAT id, also when the OCR read a country letter as a digit ("1E..." for "IE...")."""
    for candidate in (text, text[:2].translate(_LETTER_LOOKALIKES) + text[2:]):
        if len(candidate) > 2 and candidate[:2].isalpha() and VAT_RE.match(candidate):
            return candidate
    return None


def vat_ids(view: DocView) -> list[Candidate]:
    """VAT ids by shape anywhere, plus labelled tax ids of other shapes (GST ids, NIF...).

    A candidate's `extra["role"]` is "buyer" when its label says so ("Ihre USt-IdNr.", "TVA client").
    """
    out: list[Candidate] = []
    seen: set[tuple[int, str]] = set()
    for row in view.rows:
        for text, words in _windows(row, 6):
            vat = _as_vat(text)
            if vat and (id(row), vat) not in seen:
                seen.add((id(row), vat))
                cand = Candidate("vat_id", vat, 0.9 if vat == text else 0.6, row, words, "pattern:vat_id")
                if any("buyer_vat_id" in h.fields and h.x1 <= words[0].x0 + 1 for h in view.labels[id(row)]):
                    cand.extra["role"] = "buyer"
                out.append(cand)
    for field in ("vat_id", "buyer_vat_id"):
        for hit in view.hits(field):
            for region in view.regions(hit, below=1):
                got = _tax_id_from(region.words)
                if got and (id(region.row), got[0]) not in seen:
                    seen.add((id(region.row), got[0]))
                    source = "label:" + " ".join(hit.phrase)
                    cand = Candidate("vat_id", got[0], 0.7 * region.position, region.row, got[1], source)
                    if field == "buyer_vat_id":
                        cand.extra["role"] = "buyer"
                    out.append(cand)
                    break
    return out


def _tax_id_from(words: list[Word]) -> tuple[str, list[Word]] | None:
    # Skip what is left of the label ("Reg No :", an OCR'd "He :") before the id itself.
    while words and not any(c.isdigit() for c in words[0].text) and len(words) > 1:
        words = words[1:]
    best = None
    for n in range(1, min(5, len(words)) + 1):
        text = compact_id("".join(w.text.strip(":;,()") for w in words[:n]))
        if _GENERIC_ID_RE.match(text) and sum(c.isdigit() for c in text) >= 5:
            best = (text, words[:n])
    return best


def tax_number(view: DocView) -> list[Candidate]:
    def parse(words: list[Word]) -> tuple[str, list[Word]] | None:
        used: list[Word] = []
        for w in words[:4]:
            if not re.search(r"\d", w.text):
                break
            used.append(w)
        text = " ".join(w.text for w in used).strip(" :")
        return (text, used) if sum(c.isdigit() for c in text) >= 6 else None

    return _labelled(view, "tax_number", parse, below=1)


def ibans(view: DocView) -> list[Candidate]:
    out = []
    for row in view.rows:
        labelled = any("iban" in h.fields for h in view.labels[id(row)])
        best: tuple[str, list[Word]] | None = None
        for text, words in _windows(row, 9):
            if IBAN_RE.match(text) and iban_is_valid(text) and (best is None or len(text) > len(best[0])):
                best = (text, words)
        if best:
            out.append(Candidate("iban", best[0], 1.0 if labelled else 0.9, row, best[1], "pattern:iban"))
            continue
        if labelled:  # printed after "IBAN" but failing the checksum: keep it, validation flags it
            for hit in (h for h in view.labels[id(row)] if "iban" in h.fields):
                rest = view.after_label(hit)
                text = compact_id("".join(w.text for w in rest[:9]))
                m = re.match(r"[A-Z]{2}\d{2}[A-Z0-9]{8,30}", text)
                if m:
                    out.append(Candidate("iban", m.group(), 0.5, row, rest[:9], "label:iban"))
    return out


def bics(view: DocView) -> list[Candidate]:
    def parse(words: list[Word]) -> tuple[str, list[Word]] | None:
        for w in words[:3]:
            t = w.text.strip(":;,()").upper()
            if BIC_RE.match(t):
                return t, [w]
        return None

    return _labelled(view, "bic", parse, below=1)


def currency(view: DocView, amount_codes: list[str], iban: str | None) -> tuple[str, float, str] | None:
    """(code, confidence, how): printed beside amounts, else a code in the text, else the IBAN's country."""
    if amount_codes:
        code, n = Counter(amount_codes).most_common(1)[0]
        return code, 0.95 if n >= 2 else 0.85, "amount"
    codes: Counter[str] = Counter()
    valid = iso_currencies()
    for row in view.rows:
        for token in re.findall(r"\b[A-Z]{3}\b", row.text):
            if token in valid and token not in {"TVA", "VAT", "GST", "NIF", "CIF"}:
                codes[token] += 1
        if re.search(r"\beuros?\b", fold(row.text)):
            codes["EUR"] += 1
    if codes:
        return codes.most_common(1)[0][0], 0.8, "text"
    symbols: Counter[str] = Counter()
    for row in view.rows:
        for token in _SYMBOL_RE.findall(row.text):
            symbol_code = CURRENCY_SYMBOLS.get(token.casefold())
            if symbol_code:
                symbols[symbol_code] += 1
    if symbols:
        return symbols.most_common(1)[0][0], 0.75, "symbol"
    if iban and iban[:2] in IBAN_COUNTRY_CURRENCY:
        return IBAN_COUNTRY_CURRENCY[iban[:2]], 0.4, "inferred from IBAN country"
    return None


def is_buyer_side(view: DocView, row: Row, words: list[Word]) -> bool:
    """Is this value printed in the buyer's part of the page: after a "Bill to" / "Kunde" /
    "Client" label on its own row, or inside the section such a heading opens?"""
    for hit in view.labels[id(row)]:
        if "buyer_block" in hit.fields and hit.x1 <= words[0].x0:
            return True
    return section_role(view, row, (words[0].x0 + words[0].x1) / 2) == "buyer"


def section_role(view: DocView, row: Row, x: float, reach: int = 16) -> str | None:
    """The party section a point belongs to: the nearest heading above it ("Verkäufer",
    "Bill to", "Client") whose column holds x, within `reach` rows. None if there is none."""
    rows = view.rows_of(row.page)
    for above in reversed(rows[max(0, row.index - reach) : row.index + 1]):
        for hit in view.labels[id(above)]:
            role = "buyer" if "buyer_block" in hit.fields else "vendor" if "vendor_block" in hit.fields else None
            if role is None or not _heads_section(hit):
                continue
            if hit.x0 - 2 * view.unit(row.page) <= x <= _column_right(view, hit):
                return role
    return None


def _heads_section(hit: LabelHit) -> bool:
    """A section heading is a short cell of its own ("Käufer", "Bill to:"), not a word in a sentence."""
    for seg in hit.row.segments:
        if seg.words[0] is hit.row.words[hit.first_word]:
            return len(seg.words) - (hit.last_word - hit.first_word + 1) <= 2
    return False


def buyer_zone(view: DocView, page: int) -> tuple[float, float, float, float] | None:
    """The box under a buyer-block label: its column, down to the first large gap."""
    for hit in view.hits("buyer_block"):
        if hit.row.page != page:
            continue
        unit = view.unit(page)
        rows = view.rows_of(page)
        x0 = hit.x0 - 2 * unit
        x1 = _column_right(view, hit)
        y0, y_last = hit.row.y0, hit.row.y1
        for r in rows[hit.row.index + 1 :]:
            if r.y0 - y_last > 2.5 * unit:
                break
            if any(x0 <= w.x0 < x1 for w in r.words):
                y_last = r.y1
        return x0, y0, x1, y_last
    return None


def _column_right(view: DocView, hit: LabelHit) -> float:
    page_w = view.pages[hit.row.page].width
    mid = page_w / 2
    return mid if hit.x0 < mid * 0.8 else page_w
