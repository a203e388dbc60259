"""Words from a PDF page's text layer, read with pdfium.

pdfium gives characters with boxes in PDF user space (origin bottom-left, before the page's
/Rotate). We turn them into words in the page's displayed coordinates (points, origin top-left,
rotation applied), so they line up with what a person and the rasterizer see. A text layer that
is too thin or mostly undecodable (fonts without a ToUnicode map) gives no words: the page is
then treated as scanned and OCR'd.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from ledgerlens.pipeline.types import Word

# A gap wider than this share of the character height splits a word even without a space char:
# word spacing is ~0.25 em and the loose box is ~1.15 em high, letter spacing is near 0.
WORD_GAP = 0.2
# On pages that spell their word spaces out as characters (most do), a gap without a space is
# letter spacing or kerning ("Posit ionssumme" otherwise); only a wider one separates words.
SPACED_WORD_GAP = 0.5
SPACED_PAGE_SHARE = 0.05  # spaces per character above which a page "spells out" its spaces
# More undecodable characters than this share means the text layer is garbage.
MAX_GARBAGE_SHARE = 0.3
# Words whose vertical extents overlap by at least this share of the smaller height share a line.
LINE_OVERLAP = 0.5
# A vertical gap larger than this many line heights starts a new block.
BLOCK_GAP = 1.0
# Characters more than this far from horizontal (after the page rotation) are left out.
MAX_TILT_DEG = 10.0

_LIGATURES = {chr(c): unicodedata.normalize("NFKC", chr(c)) for c in range(0xFB00, 0xFB07)}

Transform = Callable[[float, float, float, float], tuple[float, float, float, float]]


@dataclass(slots=True)
class _Char:
    text: str
    x0: float
    y0: float
    x1: float
    y1: float


def display_size(page: pdfium.PdfPage) -> tuple[float, float]:
    """Width and height in points as displayed: the visible box (crop ∩ media), turned by /Rotate."""
    left, bottom, right, top = page.get_bbox()
    if page.get_rotation() % 180:
        return top - bottom, right - left
    return right - left, top - bottom


def display_transform(page: pdfium.PdfPage) -> Transform:
    """Map a user-space box (left, bottom, right, top) to displayed (x0, y0, x1, y1), top-left origin."""
    left, bottom, right, top = page.get_bbox()
    w0, h0 = right - left, top - bottom
    rotation = page.get_rotation() % 360

    def point(x: float, y: float) -> tuple[float, float]:
        u, v = x - left, top - y
        if rotation == 90:
            return h0 - v, u
        if rotation == 180:
            return w0 - u, h0 - v
        if rotation == 270:
            return v, w0 - u
        return u, v

    def box(l: float, b: float, r: float, t: float) -> tuple[float, float, float, float]:  # noqa: E741
        ax, ay = point(l, b)
        bx, by = point(r, t)
        return min(ax, bx), min(ay, by), max(ax, bx), max(ay, by)

    return box


def _is_garbage(ch: str) -> bool:
    cp = ord(ch)
    return (
        ch == "\ufffd"
        or 0xE000 <= cp <= 0xF8FF
        or cp >= 0xF0000
        or 0xD800 <= cp <= 0xDFFF
        or unicodedata.category(ch) in ("Cc", "Cn")
    )


def _read_chars(page: pdfium.PdfPage) -> tuple[list[_Char | None], int, int, int]:
    """Characters in content order (None marks a break), plus counts of good, garbage and space chars."""
    to_display = display_transform(page)
    rotation = math.radians(page.get_rotation() % 360)
    textpage = page.get_textpage()
    try:
        tp = textpage.raw
        rect = pdfium_c.FS_RECTF()
        chars: list[_Char | None] = []
        good = garbage = spaces = 0
        for i in range(pdfium_c.FPDFText_CountChars(tp)):
            ch = chr(pdfium_c.FPDFText_GetUnicode(tp, i))
            generated = pdfium_c.FPDFText_IsGenerated(tp, i) == 1
            if ch.isspace() or generated:
                spaces += ch == " " and not generated
                chars.append(None)
                continue
            if _is_garbage(ch):
                garbage += 1
                chars.append(None)
                continue
            # No ToUnicode entry: pdfium guesses from the char code; keep the guess, but count it.
            unmapped = pdfium_c.FPDFText_HasUnicodeMapError(tp, i) == 1
            # pdfium measures the angle clockwise, as /Rotate does: upright text adds up to 0°.
            angle = pdfium_c.FPDFText_GetCharAngle(tp, i)
            tilt = math.degrees(abs(math.remainder(angle + rotation, 2 * math.pi))) if angle >= 0 else 0.0
            if tilt > MAX_TILT_DEG or not pdfium_c.FPDFText_GetLooseCharBox(tp, i, rect):
                chars.append(None)
                continue
            garbage += unmapped
            good += not unmapped
            x0, y0, x1, y1 = to_display(rect.left, rect.bottom, rect.right, rect.top)
            chars.append(_Char(_LIGATURES.get(ch, ch), x0, y0, x1, y1))
        return chars, good, garbage, spaces
    finally:
        textpage.close()


def _group_words(chars: list[_Char | None], max_gap: float = WORD_GAP) -> list[_Char]:
    """Join characters into words at spaces, line changes and horizontal gaps over `max_gap` heights."""
    words: list[_Char] = []
    cur: _Char | None = None
    last: _Char | None = None
    for c in chars:
        if c is None:
            cur = last = None
            continue
        if cur is not None and last is not None:
            height = max(last.y1 - last.y0, c.y1 - c.y0)
            gap = c.x0 - last.x1
            same_row = last.y0 <= (c.y0 + c.y1) / 2 <= last.y1
            # pdfium spells a ligature out as several chars sharing one box, so overlap is fine;
            # only a jump back past the previous char's start (a new line) breaks the word.
            forward = c.x0 >= last.x0 - 0.1 * height
            if same_row and forward and gap <= max_gap * height:
                cur.text += c.text
                cur.x0, cur.y0 = min(cur.x0, c.x0), min(cur.y0, c.y0)
                cur.x1, cur.y1 = max(cur.x1, c.x1), max(cur.y1, c.y1)
                last = c
                continue
        cur = _Char(c.text, c.x0, c.y0, c.x1, c.y1)
        words.append(cur)
        last = c
    return words


@dataclass(slots=True)
class _Line:
    y0: float
    y1: float
    words: list[_Char]

    def overlaps(self, w: _Char) -> bool:
        overlap = min(self.y1, w.y1) - max(self.y0, w.y0)
        return overlap >= LINE_OVERLAP * min(w.y1 - w.y0, self.y1 - self.y0)

    def add(self, w: _Char) -> None:
        self.y0, self.y1 = min(self.y0, w.y0), max(self.y1, w.y1)
        self.words.append(w)


def assign_lines(words: list[_Char]) -> list[tuple[_Char, int, int]]:
    """Reading order: (word, line, block), top to bottom, then left to right within a line.

    Words whose vertical extents overlap (by LINE_OVERLAP of the smaller height) form one line,
    so two columns on the same row read as one line, left to right. A block is a run of lines
    without a vertical gap larger than BLOCK_GAP line heights.
    """
    lines: list[_Line] = []
    for w in sorted(words, key=lambda w: (w.y0 + w.y1) / 2):
        # Sorted by height on the page, a word can only join one of the last few lines.
        line = next((line for line in reversed(lines[-4:]) if line.overlaps(w)), None)
        if line is None:
            lines.append(_Line(w.y0, w.y1, [w]))
        else:
            line.add(w)
    lines.sort(key=lambda line: (line.y0 + line.y1) / 2)
    out: list[tuple[_Char, int, int]] = []
    block, prev_bottom = 0, None
    for number, line in enumerate(lines):
        if prev_bottom is not None and line.y0 - prev_bottom > BLOCK_GAP * (line.y1 - line.y0):
            block += 1
        prev_bottom = line.y1
        out.extend((w, number, block) for w in sorted(line.words, key=lambda w: w.x0))
    return out


def text_layer_words(page: pdfium.PdfPage, min_chars: int) -> list[Word]:
    """The page's words in reading order, or [] when its text layer is missing or garbage."""
    chars, good, garbage, spaces = _read_chars(page)
    if good < min_chars or garbage > MAX_GARBAGE_SHARE * (good + garbage):
        return []
    width, height = display_size(page)
    spelled_out = spaces > SPACED_PAGE_SHARE * (good + garbage)
    words = [
        w
        for w in _group_words(chars, SPACED_WORD_GAP if spelled_out else WORD_GAP)
        # Text outside the visible page (clipped away by the crop box) is not on the page.
        if 0 <= (w.x0 + w.x1) / 2 <= width and 0 <= (w.y0 + w.y1) / 2 <= height
    ]
    return [
        Word(w.text, (max(w.x0, 0.0), max(w.y0, 0.0), min(w.x1, width), min(w.y1, height)), 1.0, line, block)
        for w, line, block in assign_lines(words)
    ]
