"""A page's words as plain text a language model reads: reading order, line breaks, column spacing.

Built on `layout.py`'s rows and segments (the same for a PDF text layer and for OCR): each row is
one line; its segments (cells, phrases) start at the character column their left edge sits at, so
a table's columns and a label's value stay aligned as on the page; a wide vertical gap becomes one
blank line. Each page starts with a marker line. Long documents are cut into chunks that fit a
budget (tokens, or whatever `count` measures), at page boundaries, else at row boundaries.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass

from ledgerlens.pipeline.read.layout import PageLayout, Row, layout_page
from ledgerlens.pipeline.types import Page

MAX_COLUMNS = 140  # a page wider than this in characters is drawn narrower: spacing is relative anyway
MIN_GAP = 2  # spaces between two segments of a row: a column boundary stays visible
PARAGRAPH_GAP = 1.5  # a vertical gap above this many word heights is drawn as one blank line
NO_TEXT = "(no text on this page)"

Count = Callable[[str], int]


def approx_tokens(text: str) -> int:
    """A tokenizer-free estimate: about four characters per token for Latin-script text."""
    return len(text) // 4 + 1


def page_marker(index: int, total: int, continued: bool = False) -> str:
    return f"--- page {index + 1} of {total}{' (continued)' if continued else ''} ---"


def char_width(layout: PageLayout) -> float:
    """The page's median character width (page units), widened so the page fits MAX_COLUMNS."""
    widths = [(w.x1 - w.x0) / len(w.text) for row in layout.rows for w in row.words if w.x1 > w.x0 and w.text]
    width = statistics.median(widths) if widths else layout.unit / 2
    left, right = _extent(layout)
    return max(width, (right - left) / MAX_COLUMNS, 1e-6)


def _extent(layout: PageLayout) -> tuple[float, float]:
    return min(r.bbox[0] for r in layout.rows), max(r.bbox[2] for r in layout.rows)


def render_row(row: Row, left: float, width: float) -> str:
    line = ""
    for seg in row.segments:
        column = round((seg.x0 - left) / width)
        if line:
            column = max(column, len(line) + MIN_GAP)
        line += " " * (column - len(line)) + seg.text
    return line


def page_lines(page: Page) -> list[str]:
    """The page's rows as text lines, top to bottom (no marker); [] for a page without words."""
    layout = layout_page(page)
    if not layout.rows:
        return []
    left = _extent(layout)[0]
    width = char_width(layout)
    lines: list[str] = []
    previous: Row | None = None
    for row in layout.rows:
        if previous is not None and row.y0 - previous.y1 > PARAGRAPH_GAP * layout.unit:
            lines.append("")
        lines.append(render_row(row, left, width))
        previous = row
    return lines


def render_page(page: Page, total: int) -> str:
    return "\n".join([page_marker(page.index, total), *(page_lines(page) or [NO_TEXT])])


def render_pages(pages: list[Page], total: int = 0) -> str:
    """The pages, each after its marker ("page N of `total`", by default the last page's number)."""
    total = total or _total(pages)
    return "\n\n".join(render_page(p, total) for p in pages)


@dataclass(frozen=True)
class TextChunk:
    pages: list[int]  # 0-based indices of the pages (or parts of pages) it holds
    text: str


def chunk_pages(pages: list[Page], budget: int, count: Count = approx_tokens) -> list[TextChunk]:
    """The document's text in as few chunks as fit `budget` (as `count` measures), split at page
    boundaries; a page that alone exceeds it is split at row boundaries, each part under its own
    marker. A single row longer than the budget is a chunk of its own (rows are never cut)."""
    if budget <= 0:
        raise ValueError("a chunk budget must be positive")
    total = _total(pages)
    chunks: list[TextChunk] = []
    held: list[tuple[int, str]] = []  # (page, text) pieces of the chunk being filled
    used = 0
    for page in pages:
        for piece in _page_pieces(page, total, budget, count):
            size = count(piece) + 1  # +1: the blank line between pieces
            if held and used + size > budget:
                chunks.append(_chunk(held))
                held, used = [], 0
            held.append((page.index, piece))
            used += size
    if held:
        chunks.append(_chunk(held))
    return chunks


def _page_pieces(page: Page, total: int, budget: int, count: Count) -> list[str]:
    """The page under its marker, or, when that exceeds `budget`, consecutive runs of its rows
    each under a marker (the later ones marked continued)."""
    lines = page_lines(page) or [NO_TEXT]
    whole = "\n".join([page_marker(page.index, total), *lines])
    if count(whole) <= budget:
        return [whole]
    pieces: list[str] = []
    run: list[str] = []
    used = 0
    for line in lines:
        size = count(line) + 1
        if run and used + size > budget:
            pieces.append("\n".join(run))
            run, used = [], 0
        if not run:
            marker = page_marker(page.index, total, continued=bool(pieces))
            run, used = [marker], count(marker) + 1
        run.append(line)
        used += size
    if run:
        pieces.append("\n".join(run))
    return pieces


def _chunk(held: list[tuple[int, str]]) -> TextChunk:
    pages = sorted({p for p, _ in held})
    return TextChunk(pages, "\n\n".join(text for _, text in held))


def _total(pages: list[Page]) -> int:
    return max((p.index for p in pages), default=-1) + 1
