"""Page images for a model server: resized within `max_pixels`, re-encoded, size-bounded, base64.

The page is loaded and resized like the transformers engine's (`vlm.images.page_image`), then
encoded as JPEG (or PNG). An encoding over `max_image_bytes` is made smaller, first by JPEG
quality, then by scaling the page down, so no request carries an unbounded image.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from typing import Any

from ledgerlens.pipeline.engines.model.images import page_image
from ledgerlens.pipeline.engines.openai.options import ServerOptions
from ledgerlens.pipeline.types import Page

FACTOR = 28  # page sides rounded to 28 px: what Qwen-VL servers do anyway, harmless for the others
MIN_PIXELS = 56 * 56
QUALITY_STEPS = (75, 60, 45)
MEDIA_TYPES = {"jpeg": "image/jpeg", "png": "image/png"}


@dataclass(frozen=True)
class EncodedImage:
    media_type: str
    data: bytes
    width: int
    height: int

    @property
    def base64(self) -> str:
        return base64.b64encode(self.data).decode("ascii")

    @property
    def data_url(self) -> str:
        return f"data:{self.media_type};base64,{self.base64}"

    def describe(self) -> dict[str, Any]:
        return {"media_type": self.media_type, "bytes": len(self.data), "width": self.width, "height": self.height}


def encode_page(page: Page, options: ServerOptions) -> EncodedImage:
    image = page_image(page, FACTOR, MIN_PIXELS, options.max_pixels)
    return encode_image(image, options.image_format, options.jpeg_quality, options.max_image_bytes)


def encode_image(image: Any, fmt: str, quality: int, max_bytes: int) -> EncodedImage:
    """Encode; while too large, lower the JPEG quality, then scale the image down by a quarter."""
    from PIL import Image

    qualities = [quality, *(q for q in QUALITY_STEPS if q < quality)] if fmt == "jpeg" else [0]
    while True:
        for q in qualities:
            data = _encode(image, fmt, q)
            if len(data) <= max_bytes:
                return EncodedImage(MEDIA_TYPES[fmt], data, image.width, image.height)
        if image.width <= FACTOR or image.height <= FACTOR:
            return EncodedImage(MEDIA_TYPES[fmt], data, image.width, image.height)
        size = (max(FACTOR, image.width * 3 // 4), max(FACTOR, image.height * 3 // 4))
        image = image.resize(size, Image.Resampling.BICUBIC)


def _encode(image: Any, fmt: str, quality: int) -> bytes:
    buf = io.BytesIO()
    if fmt == "jpeg":
        image.save(buf, format="JPEG", quality=quality, optimize=True)
    else:
        image.save(buf, format="PNG", optimize=True)
    return buf.getvalue()
