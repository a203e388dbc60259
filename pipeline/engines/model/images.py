"""Page images for a vision-language model: loaded, RGB, and resized within [min_pixels, max_pixels].

The vision encoder's cost grows with the page's pixels (on CPU it dominates above ~500k pixels),
so the page size is the first speed lever. Sides become multiples of the model's patch factor
(28 for Qwen2/2.5-VL: 14-pixel patches merged 2x2), keeping the aspect ratio.
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


def page_image(page: Page, factor: int, min_pixels: int, max_pixels: int) -> Any:
    """The page as a resized RGB PIL image. A page without an image is a DocumentError (stage extract)."""
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
    h, w = smart_resize(rgb.height, rgb.width, factor, min_pixels, max_pixels)
    return rgb if (h, w) == (rgb.height, rgb.width) else rgb.resize((w, h), Image.Resampling.BICUBIC)


def visual_tokens(image: Any, factor: int) -> int:
    """Tokens the language model sees for one resized image (one per factor x factor block)."""
    return (image.height // factor) * (image.width // factor)
