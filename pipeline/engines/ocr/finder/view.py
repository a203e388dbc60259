"""A document seen as rows of words with their labels, and where a label's value may be.

A value sits after its label on the same row (up to the next label), or under it in the next
rows, left-aligned with it or overlapping it ("label above value" layouts).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from ledgerlens.pipeline.engines.ocr.finder.lexicon import LabelHit, Lexicon, find_labels
from ledgerlens.pipeline.normalize import fold
from ledgerlens.pipeline.read.layout import PageLayout, Row, layout_page
from ledgerlens.pipeline.types import FieldEvidence, Page, Word


def read_confidence(words: list[Word]) -> float:
    """How sure the reading of these words is: the weakest word, on a softened scale.

    Tesseract's word confidences run low even for correct words (0.5-0.7 is common on a clean
    scan), so the square root keeps them from swamping the layout evidence; a text layer is 1.0.
    """
    return math.sqrt(min((w.conf for w in words), default=1.0))


@dataclass(frozen=True)
class Region:
    words: list[Word]
    row: Row
    position: float  # 1.0 right after the label; less further away or below
    where: str  # "inline" | "right" | "below"

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)


@dataclass
class Candidate:
    field: str
    value: Any  # Decimal, date, str or a tuple of dates: the field decides
    score: float
    row: Row
    words: list[Word]
    source: str  # how it was found: "label:<phrase>", "pattern:iban", ...
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)


@dataclass
class DocView:
    pages: list[Page]
    lexicon: Lexicon

    @cached_property
    def layouts(self) -> list[PageLayout]:
        return [layout_page(p) for p in self.pages]

    @cached_property
    def rows(self) -> list[Row]:
        return [r for lay in self.layouts for r in lay.rows]

    @cached_property
    def furniture(self) -> frozenset[int]:
        """id() of the rows printed on several pages alike: running headers and footers (the
        sender's bank details, "Page 1 of 2"), never part of the document's content."""
        if len(self.layouts) < 2:
            return frozenset()
        pages_of: dict[str, set[int]] = {}
        for r in self.rows:
            pages_of.setdefault(_furniture_key(r), set()).add(r.page)
        return frozenset(id(r) for r in self.rows if len(pages_of[_furniture_key(r)]) >= 2)

    @cached_property
    def labels(self) -> dict[int, list[LabelHit]]:
        """Label hits per row, keyed by id(row); OCR'd pages tolerate one-letter slips."""
        ocr = {lay.page.index for lay in self.layouts if lay.page.text_source == "ocr"}
        return {id(r): find_labels(r, self.lexicon, fuzzy=r.page in ocr) for r in self.rows}

    def hits(self, field_name: str) -> Iterator[LabelHit]:
        for r in self.rows:
            for h in self.labels[id(r)]:
                if field_name in h.fields:
                    yield h

    def unit(self, page: int) -> float:
        return self.layouts[page].unit

    def page_height(self, page: int) -> float:
        return self.pages[page].height

    def rows_of(self, page: int) -> list[Row]:
        return self.layouts[page].rows

    def evidence(self, cand: Candidate, confidence: float) -> FieldEvidence:
        lay = self.layouts[cand.row.page]
        bbox = lay.page_bbox(cand.words) if cand.words else None
        return FieldEvidence(confidence, cand.row.page + 1, bbox, cand.source, cand.text)

    # -------------------------------------------------------------- where values are

    def after_label(self, hit: LabelHit) -> list[Word]:
        """Words after the label on its row, up to the next strong label."""
        row = hit.row
        words: list[Word] = []
        last = row.words[hit.last_word]
        rest = last.text[hit.end_char :].lstrip(":.#°º ")
        if rest:
            words.append(Word(rest, last.bbox, last.conf, last.line, last.block))
        stop = len(row.words)
        for other in self.labels[id(row)]:
            if other.first_word > hit.last_word and any(lb.strong for lb in other.labels):
                stop = other.first_word
                break
        words.extend(w for w in row.words[hit.last_word + 1 : stop] if w.text not in (":", "#"))
        return words

    def regions(self, hit: LabelHit, *, below: int = 2) -> list[Region]:
        """Places a label's value may be, best first."""
        out: list[Region] = []
        after = self.after_label(hit)
        if after:
            out.append(Region(after, hit.row, 1.0, "inline"))
        out.extend(self.below_label(hit, below))
        return out

    def column_of(self, hit: LabelHit) -> tuple[float, float]:
        """The column a label heads: between its neighbours (labels or cells) on its row."""
        unit = self.unit(hit.row.page)
        right, left = float("inf"), hit.x0 - 3 * unit
        for other in self.labels[id(hit.row)]:
            if other.first_word > hit.last_word:
                right = min(right, other.x0 - 0.3 * unit)
            elif other.last_word < hit.first_word:
                left = max(left, other.x1 + 0.3 * unit)
        for seg in hit.row.segments:
            if seg.x0 > hit.x1 + unit:
                right = min(right, seg.x0 - 0.3 * unit)
            elif seg.x1 < hit.x0 - unit:
                left = max(left, seg.x1 + 0.3 * unit)
        return left, right

    def is_header_row(self, row: Row) -> bool:
        """A row of column headings: at least three cells, nearly all of them labels."""
        hits = self.labels[id(row)]
        labelled = sum(1 for seg in row.segments if any(seg.x0 <= h.x0 + 1 and h.x1 <= seg.x1 + 1 for h in hits))
        return len(row.segments) >= 3 and labelled >= len(row.segments) - 1

    def below_label(self, hit: LabelHit, max_rows: int) -> list[Region]:
        page = hit.row.page
        rows = self.rows_of(page)
        unit = self.unit(page)
        left, right = self.column_of(hit)
        out: list[Region] = []
        reach = (2.0 + 2.5 * max_rows) * unit
        for r in rows[hit.row.index + 1 :]:
            if len(out) >= max_rows or r.y0 - hit.row.y1 > reach:
                break
            words = [w for w in r.words if left <= (w.x0 + w.x1) / 2 <= right]
            if words:  # rows with nothing in this column (text beside it) are stepped over
                out.append(Region(words, r, 0.8 - 0.2 * len(out), "below"))
        return out

    def column_total(self, hit: LabelHit, max_rows: int = 12) -> Region | None:
        """Under a column heading, the cell of the table's closing "Total"/"Summe" row."""
        page = hit.row.page
        left, right = self.column_of(hit)
        for r in self.rows_of(page)[hit.row.index + 1 : hit.row.index + 1 + max_rows]:
            first = fold(r.segments[0].text).strip(" :")
            if first.split(" ")[0] in TOTAL_ROW_WORDS:
                words = [w for w in r.words if left <= (w.x0 + w.x1) / 2 <= right]
                return Region(words, r, 0.9, "column total") if words else None
        return None


def _furniture_key(row: Row) -> str:
    # Page numbers change from page to page: "Seite 1 von 2" and "Seite 2 von 2" are one footer.
    return re.sub(r"\d+", "9", fold(row.text))


TOTAL_ROW_WORDS = frozenset({"total", "totals", "summe", "gesamt", "totaal", "totale", "somme", "suma", "sum"})
