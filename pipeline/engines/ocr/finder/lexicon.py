"""Label lexicon (the `labels` of the document types' cards) and label matching on layout rows.

Words are cut into tokens ("Rechnungs-Nr.:" -> "rechnungs", "no"); every spelling of "number"
becomes "no". A label is a token sequence; at each position the longest label wins, and a
label may serve several fields ("GST" announces a tax amount or a tax id: the value decides).
The lexicon holds the labels of every type loaded together (a workspace's types included), so
that a label of one type is never read as the value of another's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property, lru_cache

from ledgerlens.pipeline.doctypes.schemas import LabelBook
from ledgerlens.pipeline.normalize import fold
from ledgerlens.pipeline.read.layout import Row

NUMBER_WORDS = frozenset({"no", "nr", "nro", "num", "number", "numero", "nummer", "n", "#", "nos", "numbers"})
_TOKEN_RE = re.compile(r"#|[^\s\-/:#|°º]+")
_STRIP = ":;,.()[]{}\"'*°º¨`‘’“”|_~!"


def norm_token(raw: str) -> str:
    t = fold(raw).strip(_STRIP)
    return "no" if t in NUMBER_WORDS else t


@dataclass(frozen=True)
class Token:
    text: str  # normalised
    word: int  # index of the word in the row
    end: int  # char offset in the word where this token ends
    fuzzy: bool = False  # read as the nearest lexicon word (an OCR slip), not as printed


# Labels of lines that carry an amount which is never a document total (payments, counts, discounts).
NOT_TOTALS = frozenset({"ignore", "payment_cash", "payment_change"})


@dataclass(frozen=True)
class Label:
    field: str
    strong: bool


class Lexicon:
    """Token sequence -> the fields it labels, built once per set of cards (`lexicon_for`)."""

    def __init__(self, book: LabelBook) -> None:
        table: dict[tuple[str, ...], list[Label]] = {}
        for field_name, phrase, strong in book.entries:
            key = tuple(t for t in (norm_token(p) for p in _TOKEN_RE.findall(phrase)) if t)
            labels = table.setdefault(key, [])
            if not any(lb.field == field_name for lb in labels):
                labels.append(Label(field_name, strong))
        self.table = {k: tuple(v) for k, v in table.items()}
        self.longest = max((len(k) for k in self.table), default=1)
        self.vocabulary = frozenset(t for key in self.table for t in key)

    @cached_property
    def _fuzzy_index(self) -> dict[str, str]:
        """Symmetric-delete index of the lexicon's words (5+ letters) for one-edit OCR slips.

        "Saies" -> "sales", "Chenge" -> "change", "Tota1" -> "total": a word one substitution,
        insertion or deletion away from exactly one lexicon word reads as that word.
        """
        words = {t for t in self.vocabulary if len(t) >= 5 and t.isalpha()}
        index: dict[str, set[str]] = {}
        for w in words:
            for variant in {w, *_deletes(w)}:
                index.setdefault(variant, set()).add(w)
        return {k: next(iter(v)) for k, v in index.items() if len(v) == 1}

    def correct(self, token: str) -> str | None:
        """The lexicon word an OCR-damaged token stands for, if exactly one is one edit away."""
        if len(token) < 5 or not token.isalpha():
            return None
        index = self._fuzzy_index
        hits = {index[v] for v in (token, *_deletes(token)) if v in index}
        hits = {h for h in hits if _one_edit(token, h)}
        return next(iter(hits)) if len(hits) == 1 else None


@lru_cache(maxsize=16)
def lexicon_for(book: LabelBook) -> Lexicon:
    """The lexicon of one load of the document types (a LabelBook hashes by identity)."""
    return Lexicon(book)


def tokenize_row(row: Row, lexicon: Lexicon, *, fuzzy: bool = False) -> list[Token]:
    out: list[Token] = []
    for wi, w in enumerate(row.words):
        for m in _TOKEN_RE.finditer(w.text):
            t = norm_token(m.group())
            if not t:
                continue
            after = w.text[m.end() : m.end() + 1]
            if t == "no" and fold(m.group()).strip(_STRIP) == "n" and after not in ("°", "º", "."):
                t = "n"  # a lone N is a word ("FUN N CHEER"); only N° / Nº / N. mean "number"
            fixed = lexicon.correct(t) if fuzzy and t not in lexicon.vocabulary else None
            out.append(Token(fixed or t, wi, m.end(), fixed is not None))
    return out


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def _one_edit(a: str, b: str) -> bool:
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) == 1
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))


@dataclass(frozen=True)
class LabelHit:
    row: Row
    labels: tuple[Label, ...]
    first_word: int
    last_word: int  # inclusive
    end_char: int  # where the label ends inside the last word ("Invoice#123": value starts there)
    phrase: tuple[str, ...]
    fuzzy: bool = False  # matched through an OCR-corrected word

    def strength(self, field: str) -> float:
        for lb in self.labels:
            if lb.field == field:
                return (1.0 if lb.strong else 0.5) * (0.8 if self.fuzzy else 1.0)
        return 0.0

    @property
    def fields(self) -> frozenset[str]:
        return frozenset(lb.field for lb in self.labels)

    @property
    def x0(self) -> float:
        return self.row.words[self.first_word].x0

    @property
    def x1(self) -> float:
        return self.row.words[self.last_word].x1


def _whole_words(row: Row, tokens: list[Token], i: int, n: int) -> bool:
    """A label starts a word and ends one, or ends just before ':' / '#' / '°' ("Invoice#12", "N°5").

    So "INV" inside "INV/2023/03/0008" is part of a value, not a label.
    """
    first, last = tokens[i], tokens[i + n - 1]
    if i > 0 and tokens[i - 1].word == first.word:
        return False
    word = row.words[last.word].text
    rest = word[last.end :]
    if rest[:1] == "/" and rest[1:2].isalpha():
        return True  # "Käufer/Leistungsempfänger": two words; "INV/2023" is a number
    return not rest or rest[0] in ":#°º.)" or last.text == "no"


def find_labels(row: Row, lexicon: Lexicon, *, fuzzy: bool = False) -> list[LabelHit]:
    """Non-overlapping label hits in a row, left to right, longest match first.

    With `fuzzy` (OCR text), words one edit away from a lexicon word count as that word.
    """
    tokens = tokenize_row(row, lexicon, fuzzy=fuzzy)
    table, longest = lexicon.table, lexicon.longest
    # A label never spans a column gap: "MwSt. | Gesamt" are two headings, not "MwSt gesamt".
    segment_of = {id(w): i for i, seg in enumerate(row.segments) for w in seg.words}
    seg_ids = [segment_of.get(id(row.words[t.word]), -1) for t in tokens]
    hits: list[LabelHit] = []
    i = 0
    while i < len(tokens):
        match = None
        for n in range(min(longest, len(tokens) - i), 0, -1):
            if seg_ids[i] != seg_ids[i + n - 1]:
                continue
            key = tuple(t.text for t in tokens[i : i + n])
            if key in table:
                match = (n, table[key])
                break
        if match is None:
            i += 1
            continue
        n, labels = match
        first, last = tokens[i], tokens[i + n - 1]
        if _whole_words(row, tokens, i, n):
            used = tokens[i : i + n]
            hits.append(LabelHit(row, labels, first.word, last.word, last.end, key, any(t.fuzzy for t in used)))
            i += n
        else:
            i += 1
    return hits
