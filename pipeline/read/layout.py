"""Reading order from word boxes: deskew, visual rows, and segments (cells) within rows.

The same code serves a PDF text layer (points) and Tesseract output (pixels): everything is
measured in multiples of the page's median word height, never in absolute units.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property

from ledgerlens.pipeline.types import Page, Word


@dataclass
class Segment:
    """Words of one row with no column-sized gap between them: a phrase or a table cell."""

    words: list[Word]

    @cached_property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)

    @property
    def x0(self) -> float:
        return self.words[0].x0

    @property
    def x1(self) -> float:
        return max(w.x1 for w in self.words)

    @cached_property
    def bbox(self) -> tuple[float, float, float, float]:
        return union_box(self.words)

    @property
    def conf(self) -> float:
        return min(w.conf for w in self.words)


@dataclass
class Row:
    page: int  # 0-based page index
    index: int  # row number within the page, top to bottom
    words: list[Word]
    segments: list[Segment] = field(default_factory=list)

    @cached_property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)

    @cached_property
    def bbox(self) -> tuple[float, float, float, float]:
        return union_box(self.words)

    @property
    def y0(self) -> float:
        return self.bbox[1]

    @property
    def y1(self) -> float:
        return self.bbox[3]


def union_box(words: list[Word]) -> tuple[float, float, float, float]:
    return (
        min(w.x0 for w in words),
        min(w.y0 for w in words),
        max(w.x1 for w in words),
        max(w.y1 for w in words),
    )


def unit_height(words: list[Word]) -> float:
    """Median word height: the page's unit of distance."""
    heights = [w.height for w in words if w.height > 0]
    return statistics.median(heights) if heights else 10.0


def estimate_skew(words: list[Word]) -> float:
    """Page skew in radians from the slope of OCR lines (needs line ids; 0 for a text layer)."""
    by_line: dict[int, list[Word]] = defaultdict(list)
    for w in words:
        if w.line >= 0:
            by_line[w.line].append(w)
    slopes: list[float] = []
    weights: list[float] = []
    for ws in by_line.values():
        if len(ws) < 3:
            continue
        xs = [(w.x0 + w.x1) / 2 for w in ws]
        ys = [w.y1 for w in ws]  # baselines are steadier than centres
        span = max(xs) - min(xs)
        if span <= 0:
            continue
        mx, my = statistics.fmean(xs), statistics.fmean(ys)
        var = sum((x - mx) ** 2 for x in xs)
        if var == 0:
            continue
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var
        slopes.append(slope)
        weights.append(span)
    if not slopes:
        return 0.0
    # Weighted median: long lines dominate, a few odd ones don't.
    order = sorted(range(len(slopes)), key=lambda i: slopes[i])
    half, acc = sum(weights) / 2, 0.0
    for i in order:
        acc += weights[i]
        if acc >= half:
            angle = math.atan(slopes[i])
            return angle if abs(angle) > math.radians(0.1) else 0.0
    return 0.0


def deskew(words: list[Word], angle: float) -> list[Word]:
    """Rotate word centres by -angle around the origin; box sizes stay as they were."""
    if angle == 0.0:
        return words
    cos, sin = math.cos(-angle), math.sin(-angle)
    out = []
    for w in words:
        cx, cy = (w.x0 + w.x1) / 2, (w.y0 + w.y1) / 2
        nx, ny = cx * cos - cy * sin, cx * sin + cy * cos
        hw, hh = (w.x1 - w.x0) / 2, (w.y1 - w.y0) / 2
        out.append(Word(w.text, (nx - hw, ny - hh, nx + hw, ny + hh), w.conf, w.line, w.block))
    return out


def _group_rows(words: list[Word], unit: float) -> list[list[Word]]:
    rows: list[list[Word]] = []
    spans: list[tuple[float, float]] = []  # the core vertical extent of each row
    for w in sorted(words, key=lambda w: (w.cy, w.x0)):
        h = max(w.height, 1e-6)
        best, best_overlap = -1, 0.0
        for i in range(max(0, len(rows) - 4), len(rows)):  # only recent rows can overlap
            y0, y1 = spans[i]
            overlap = min(y1, w.y1) - max(y0, w.y0)
            ratio = overlap / min(h, y1 - y0 if y1 > y0 else h)
            if ratio > best_overlap:
                best, best_overlap = i, ratio
        if best >= 0 and best_overlap >= 0.5 and abs(w.cy - sum(spans[best]) / 2) < 0.7 * unit:
            rows[best].append(w)
            y0, y1 = spans[best]
            # Keep the row's core band stable: tall words (brackets, logos) don't widen it much.
            spans[best] = (min(y0, w.y0 + 0.15 * h), max(y1, w.y1 - 0.15 * h))
        else:
            rows.append([w])
            spans.append((w.y0 + 0.15 * h, w.y1 - 0.15 * h))
    for r in rows:
        r.sort(key=lambda w: w.x0)
    rows.sort(key=lambda r: statistics.median(w.cy for w in r))
    return rows


def split_segments(words: list[Word], unit: float, gap: float = 1.1) -> list[Segment]:
    """Cut a row where the horizontal gap exceeds `gap` × unit height (a column boundary)."""
    segments: list[Segment] = []
    current: list[Word] = []
    for w in words:
        if current and w.x0 - current[-1].x1 > gap * unit:
            segments.append(Segment(current))
            current = []
        current.append(w)
    if current:
        segments.append(Segment(current))
    return segments


@dataclass
class PageLayout:
    page: Page
    rows: list[Row]
    unit: float  # median word height, in page units
    skew: float  # radians removed before grouping rows
    original: dict[Word, Word]  # deskewed word -> word as OCR'd, for boxes on the real page

    def page_bbox(self, words: list[Word]) -> tuple[float, float, float, float]:
        """Box of `words` in the page's own coordinates (undoing the deskew)."""
        return union_box([self.original.get(w, w) for w in words])


# Marks that carry meaning even alone: currency, sign, percent, number and operator signs.
_MEANINGFUL_MARKS = set("€$£¥₹%#@&+-=()")


def _is_ocr_noise(w: Word) -> bool:
    """A lone "|", "_" or ":" is scanner dirt or a table rule read as text, not content."""
    text = w.text.strip()
    return not any(c.isalnum() for c in text) and not (set(text) & _MEANINGFUL_MARKS)


def layout_page(page: Page) -> PageLayout:
    """Visual rows of a page, top to bottom, each split into segments."""
    words = [w for w in page.words if w.text.strip()]
    if page.text_source == "ocr":
        words = [w for w in words if not _is_ocr_noise(w)]
    if not words:
        return PageLayout(page, [], 10.0, 0.0, {})
    skew = estimate_skew(words) if page.text_source == "ocr" else 0.0
    straight = deskew(words, skew)
    original = dict(zip(straight, words, strict=True)) if skew else {}
    unit = unit_height(straight)
    rows = [Row(page.index, i, ws, split_segments(ws, unit)) for i, ws in enumerate(_group_rows(straight, unit))]
    return PageLayout(page, rows, unit, skew, original)
