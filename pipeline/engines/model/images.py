"""Page images for a vision-language model: loaded, RGB, trimmed of blank paper, and resized within
[min_pixels, max_pixels].

The vision encoder's cost grows with the page's pixels (on CPU it dominates above ~500k pixels),
so the page size is the first speed lever. Blank paper is worth no visual tokens: the margins are
cut and every blank band taller than `BLANK_BAND` of the page (the empty lower half of a short
invoice) shrinks to that height, so the pixel budget goes to the print. Then sides become
multiples of the model's patch factor (28 for Qwen2/2.5-VL: 14-pixel patches merged 2x2), keeping
the aspect ratio.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ledgerlens.pipeline.errors import DocumentError
from ledgerlens.pipeline.types import Page


def smart_resize(height: int, width: int, factor: int, min_pixels: int, max_pixels: int) -> tuple[int, int]:
    """Qwen-VL's rule: sides rounded to `factor`, area brought within the bounds, aspect ratio kept.
    With qwen-vl-utils installed (GPU extra) its own implementation is used instead."""
    try:
        from qwen_vl_utils import smart_resize as qwen_smart_resize  # imports torchvision: GPU installs only
    except Exception:
        qwen_smart_resize = None
    if qwen_smart_resize is not None:
        h, w = qwen_smart_resize(height, width, factor=factor, min_pixels=min_pixels, max_pixels=max_pixels)
        return int(h), int(w)
    h = max(factor, round(height / factor) * factor)
    w = max(factor, round(width / factor) * factor)
    if h * w > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h = max(factor, math.floor(height / beta / factor) * factor)
        w = max(factor, math.floor(width / beta / factor) * factor)
    elif h * w < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h = math.ceil(height * beta / factor) * factor
        w = math.ceil(width * beta / factor) * factor
    return h, w


def page_image(page: Page, factor: int, min_pixels: int, max_pixels: int, trim: bool = True) -> Any:
    """The page as a trimmed (`trim_blank`), resized RGB PIL image. A page without an image is a
    DocumentError (stage extract). `trim=False` only to measure what trimming saves."""
    from PIL import Image

    if page.image_path is None or not Path(page.image_path).is_file():
        raise DocumentError(
            "no_page_image",
            f"page {page.index + 1} has no image for the vision-language engine",
            stage="extract",
            page=page.index + 1,
            hint="The transformers engine needs every page rasterized; check poppler (pdftoppm) is installed.",
        )
    with Image.open(page.image_path) as img:
        rgb = img.convert("RGB")
    if trim:
        rgb = trim_blank(rgb)
    h, w = smart_resize(rgb.height, rgb.width, factor, min_pixels, max_pixels)
    return rgb if (h, w) == (rgb.height, rgb.width) else rgb.resize((w, h), Image.Resampling.BICUBIC)


INK_BELOW_PAPER = 48  # a pixel this much darker than the paper is print (JPEG noise and scan grain are less)
BLANK_BAND = 0.03  # of the page's height: a blank band taller than this shrinks to it
MARGIN = 0.015  # of the page's width: paper kept around the print


def trim_blank(image: Any) -> Any:
    """The page without its blank margins and with tall blank bands shortened: every printed pixel
    kept, in place within its line. A page with no print, or print up to every edge (a scan's dark
    border), comes back as it was, less what is blank."""
    import numpy as np
    from PIL import Image

    gray = np.asarray(image.convert("L"), dtype=np.int16)
    paper = int(np.percentile(gray, 90))
    ink = gray < paper - INK_BELOW_PAPER
    # A row or column with a few specks of dust is blank; one with print has many dark pixels.
    rows = ink.sum(axis=1) > max(2, gray.shape[1] // 500)
    cols = ink.sum(axis=0) > max(2, gray.shape[0] // 500)
    if not rows.any() or not cols.any():
        return image
    pad = round(MARGIN * gray.shape[1])
    band = max(pad, round(BLANK_BAND * gray.shape[0]))
    left = max(0, int(cols.argmax()) - pad)
    right = min(gray.shape[1], len(cols) - int(cols[::-1].argmax()) + pad)
    keep = _rows_kept(rows, pad, band)
    if len(keep) == gray.shape[0] and (left, right) == (0, gray.shape[1]):
        return image
    pixels = np.asarray(image)[keep, left:right]
    return Image.fromarray(np.ascontiguousarray(pixels))


def _rows_kept(printed: Any, pad: int, band: int) -> Any:
    """Indices of the rows to keep: `pad` rows of paper above the first and below the last printed
    row, and at most `band` rows of every blank run between them (half each side of the cut)."""
    import numpy as np

    idx = np.flatnonzero(printed)
    first, last = int(idx[0]), int(idx[-1])
    keep = [np.arange(max(0, first - pad), first)]
    gaps = np.flatnonzero(np.diff(idx) > 1)
    start = first
    for g in gaps:
        end, nxt = int(idx[g]), int(idx[g + 1])  # print ends at `end`, resumes at `nxt`
        keep.append(np.arange(start, end + 1))
        blank = np.arange(end + 1, nxt)
        if len(blank) > band:
            blank = np.concatenate([blank[: band // 2], blank[len(blank) - (band - band // 2) :]])
        keep.append(blank)
        start = nxt
    keep.append(np.arange(start, last + 1))
    keep.append(np.arange(last + 1, min(len(printed), last + 1 + pad)))
    return np.concatenate(keep)


def visual_tokens(image: Any, factor: int) -> int:
    """Tokens the language model sees for one resized image (one per factor x factor block)."""
    return (image.height // factor) * (image.width // factor)
