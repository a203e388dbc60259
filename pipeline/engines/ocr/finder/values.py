"""Read typed values out of a run of words: amounts, dates, identifiers, percentages."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from itertools import pairwise

from ledgerlens.pipeline.normalize import Amount, find_dates, parse_amount
from ledgerlens.pipeline.types import Word

_HAS_DIGIT = re.compile(r"\d")
_SPLIT_DECIMAL = re.compile(r"(\d) ?([.,]) ?(\d{2})$")
_PERCENT = re.compile(r"^\(?-?\d{1,3}(?:[.,]\d{1,4})?\s?%\)?$")
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-/_.#]{0,39}$")
# OCR noise that clings to numbers on receipts: quotes, tildes, colons, stray bars.
_NOISE = ":;\"'“”‘’~`|_*"
_MONEY_LIKE = re.compile(r"^-?\d{1,3}(?:[.,]\d{3})*[.,]\d{2}$")
_TIME_RE = re.compile(r"^\d{1,2}:\d{2}(:\d{2})?$")


@dataclass(frozen=True)
class FoundAmount:
    amount: Amount
    words: list[Word]
    has_decimals: bool


def amounts_in(words: list[Word], *, decimal_sep: str | None = None) -> list[FoundAmount]:
    """Amounts in reading order. Joins a symbol, sign or thousands group split off by the OCR."""
    out: list[FoundAmount] = []
    i = 0
    while i < len(words):
        best: tuple[int, Amount] | None = None
        for n in (3, 2, 1):  # prefer the longest reading: "1 234,56 €" over "234,56"
            if i + n > len(words):
                continue
            chunk = words[i : i + n]
            # "65. 20" / "100 ,00": the OCR put a space beside the decimal mark.
            text = _SPLIT_DECIMAL.sub(r"\1\2\3", " ".join(w.text for w in chunk))
            if not _HAS_DIGIT.search(text) or _PERCENT.match(text) or "%" in chunk[-1].text:
                continue
            if i + n < len(words) and words[i + n].text.startswith("%"):
                continue  # "19 %" is a rate
            if n > 1 and not _plausible_join(chunk):
                continue
            amt = parse_amount(text.strip(_NOISE), decimal_sep=decimal_sep)
            if amt is not None and not _looks_like_date_or_time(text):
                best = (n, amt)
                break
        if best is None:
            i += 1
            continue
        n, amt = best
        digits = re.sub(r"[^\d.,]", "", amt.text)
        out.append(FoundAmount(amt, words[i : i + n], bool(re.search(r"[.,]\d{1,4}$", digits))))
        i += n
    return out


def _plausible_join(chunk: list[Word]) -> bool:
    # Words of one amount sit close together: at most ~1.2 character heights apart.
    return all(b.x0 - a.x1 <= 1.2 * max(a.height, b.height, 1e-06) for a, b in pairwise(chunk))


def _looks_like_date_or_time(text: str) -> bool:
    return bool(find_dates(text)) or bool(_TIME_RE.match(text.strip()))


def money_in(words: list[Word], *, decimal_sep: str | None = None) -> FoundAmount | None:
    """The amount a label points at: the rightmost one, preferring amounts printed with decimals."""
    found = amounts_in(words, decimal_sep=decimal_sep)
    if not found:
        return None
    with_decimals = [f for f in found if f.has_decimals]
    return (with_decimals or found)[-1]


def percent_in(text: str) -> Decimal | None:
    m = re.search(r"(\d{1,3}(?:[.,]\d{1,4})?)\s?%", text)
    if not m:
        return None
    return Decimal(m.group(1).replace(",", "."))


def repaired_date(words: list[Word], *, day_first: bool = True) -> tuple[date, list[Word]] | None:
    """A date the OCR damaged beyond the patterns: separators lost ("22022018") or read as 1/7
    ("171012018" for 17/01/2018). Only for a region a date label points at; low confidence."""
    for w in words[:3]:
        digits = re.sub(r"[^\d]", "", w.text)
        if not 8 <= len(digits) <= 10 or len(digits) != len(w.text.strip(".,:;")):
            continue
        candidates = [digits] if len(digits) == 8 else []
        for i, j in ((2, 5), (2, 4), (2, 3)):  # drop a misread separator or two
            trimmed = digits
            for k in sorted({i, j} if len(digits) == 10 else {i}, reverse=True):
                if k < len(trimmed) and trimmed[k] in "17":
                    trimmed = trimmed[:k] + trimmed[k + 1 :]
            if len(trimmed) == 8:
                candidates.append(trimmed)
        for c in candidates:
            d, m, y = int(c[:2]), int(c[2:4]), int(c[4:])
            for day, month in ((d, m), (m, d)) if not day_first else ((d, m),):
                try:
                    found = date(y, month, day)
                except ValueError:
                    continue
                if 1990 <= found.year <= 2099:
                    return found, [w]
    return None


def date_in(words: list[Word], *, day_first: bool = True) -> tuple[date, list[Word]] | None:
    text = " ".join(w.text for w in words)
    found = find_dates(text, day_first=day_first)
    if not found:
        # OCR splits a month name now and then ("25 J ul 2025"): retry with such pieces joined.
        joined = re.sub(r"\b([A-Za-z]) ([a-z]{2,})\b", r"\1\2", text)
        found = find_dates(joined, day_first=day_first) if joined != text else []
        if found:
            return found[0].value, words
    if not found:
        return None
    first = found[0]
    # Map the character span back to the words it covers.
    used, pos = [], 0
    for w in words:
        start, end = pos, pos + len(w.text)
        if end > first.start and start < first.end:
            used.append(w)
        pos = end + 1
    return first.value, used


def identifier_in(words: list[Word], *, max_words: int = 1) -> tuple[str, list[Word]] | None:
    """A document number: the first token with a digit that is not a date, amount or rate.

    Pieces the OCR split apart ("FA 2025-08976", "2025/F 0871") are joined back when they sit
    closer than a character's height; `max_words` more words may follow after real spaces.
    """
    for i, w in enumerate(words[:4]):
        token = w.text.strip(":;,()")
        if not token or not _HAS_DIGIT.search(token) or not _ID_RE.match(token):
            continue
        if _looks_like_date_or_time(token) or _PERCENT.match(token) or _MONEY_LIKE.match(token):
            return None
        used = [w]
        if i > 0 and _glued(words[i - 1], w) and re.fullmatch(r"[A-Z]{1,4}[-/]?", words[i - 1].text):
            used.insert(0, words[i - 1])
        j = i + 1  # next word to look at
        while j < len(words) and _glued(used[-1], words[j]) and _ID_RE.match(words[j].text):
            used.append(words[j])
            j += 1
        text = "".join(u.text.strip(":;,()") for u in used)
        for nxt in words[j : j + max_words - 1]:
            if nxt.x0 - used[-1].x1 > nxt.height or not _ID_RE.match(nxt.text):
                break
            text += " " + nxt.text
            used.append(nxt)
        return text, used
    return None


def _glued(a: Word, b: Word) -> bool:
    """Two OCR words that are really one: a gap under half a character height. A text layer
    spells its spaces out (confidence 1.0): its words are never glued."""
    if a.conf >= 1.0 and b.conf >= 1.0:
        return False
    return b.x0 - a.x1 < 0.5 * max(a.height, b.height) and b.x0 >= a.x0
