"""Render the pages that need an image: PDFs with poppler (pdf2image), images with Pillow.

Pages are written into the document's scratch folder as PPM/PGM (no compression: PNG is ~5×
slower to write and the files live only for one run). A rendered page keeps the unit system of
its words: a text-layer page stays in points, a page without words takes the image's pixel size.
"""

from __future__ import annotations

import os
import warnings
from itertools import groupby
from pathlib import Path

import numpy as np
import pdf2image
import pdf2image.exceptions as pdf2image_errors
from ledgerlens.pipeline.config import PipelineOptions
from ledgerlens.pipeline.errors import ConfigError, DocumentError
from ledgerlens.pipeline.types import Document, Page
from PIL import Image, ImageOps

# Poppler gets this long per page before the render is abandoned.
RENDER_TIMEOUT_PER_PAGE_S = 60
_PIL_FORMATS = {"image/jpeg": ["JPEG"], "image/png": ["PNG"], "image/tiff": ["TIFF"]}


def _render_failed(message: str, page: int | None = None) -> DocumentError:
    return DocumentError(
        "render_failed",
        message,
        stage="rasterize",
        hint="Open the file in a viewer to check it; re-export or rescan it if it does not display.",
        page=page,
    )


def _page_file(work_dir: Path, page: Page, suffix: str) -> Path:
    return work_dir / f"page-{page.index + 1:04d}{suffix}"


def _set_image(page: Page, path: Path, dpi: int | None) -> None:
    with Image.open(path) as im:  # reads the header only
        width, height = im.size
    page.image_path = path
    page.dpi = dpi
    if page.text_source != "text_layer":
        page.width, page.height = float(width), float(height)


# --- PDF --------------------------------------------------------------------------------------


def _render_range(pdf: Path, pages: list[Page], opts: PipelineOptions, work_dir: Path) -> None:
    first, last = pages[0].index + 1, pages[-1].index + 1
    prefix = f".render-{first:04d}-"
    try:
        rendered = pdf2image.convert_from_path(
            pdf,
            dpi=opts.dpi,
            first_page=first,
            last_page=last,
            output_folder=work_dir,
            output_file=prefix,
            paths_only=True,
            use_cropbox=True,  # pdfium's page size (and so our word boxes) is the crop box
            timeout=RENDER_TIMEOUT_PER_PAGE_S * len(pages),
        )
        paths = sorted(Path(str(p)) for p in rendered)  # paths_only: file names, not images
    except pdf2image_errors.PopplerNotInstalledError:
        raise ConfigError(
            "poppler is not installed (pdftoppm/pdfinfo not found); "
            "install it with `apt-get install poppler-utils` or `brew install poppler`"
        ) from None
    except pdf2image_errors.PDFPopplerTimeoutError:
        raise _render_failed(
            f"Rendering pages {first}-{last} took longer than {RENDER_TIMEOUT_PER_PAGE_S} s per page.", first
        ) from None
    except (pdf2image_errors.PDFPageCountError, pdf2image_errors.PDFSyntaxError, OSError) as e:
        raise _render_failed(f"Poppler could not render pages {first}-{last}: {e}", first) from None
    # pdftoppm's exit status is not checked by pdf2image: a page it could not draw is just missing.
    if len(paths) != len(pages):
        for path in paths:
            path.unlink(missing_ok=True)
        raise _render_failed(f"Poppler rendered {len(paths)} of pages {first}-{last}.", first)
    for page, path in zip(pages, paths, strict=True):
        target = _page_file(work_dir, page, path.suffix)
        os.replace(path, target)
        _set_image(page, target, opts.dpi)


def _render_pdf(doc: Document, pages: list[Page], opts: PipelineOptions, work_dir: Path) -> None:
    # One poppler call per run of consecutive pages: fewer processes, same images.
    for _, run in groupby(enumerate(pages), key=lambda item: item[1].index - item[0]):
        _render_range(doc.path, [page for _, page in run], opts, work_dir)


# --- images -----------------------------------------------------------------------------------


def to_ocr_mode(im: Image.Image) -> Image.Image:
    """RGB or L, 8 bits, transparency flattened onto white (transparent is often black underneath)."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(im, dtype=np.float64)
        top = 65535.0 if im.mode.startswith("I;16") else max(float(arr.max()), 1.0)
        return Image.fromarray(np.clip(arr * 255.0 / top, 0, 255).astype(np.uint8), "L")
    if im.mode in ("1", "L"):
        return im.convert("L")
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return im.convert("RGB")


def _write_frames(doc: Document, pages: list[Page], work_dir: Path) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # load checked the size
            with Image.open(doc.path, formats=_PIL_FORMATS.get(doc.media_type)) as im:
                dpi = im.info.get("dpi")
                for page in pages:
                    im.seek(page.index)
                    frame = to_ocr_mode(ImageOps.exif_transpose(im))
                    target = _page_file(work_dir, page, ".ppm" if frame.mode == "RGB" else ".pgm")
                    frame.save(target, "PPM")
                    _set_image(page, target, round(dpi[0]) if dpi and dpi[0] >= 1 else None)
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise _render_failed(f"The image could not be decoded: {e}") from None


def rasterize(doc: Document, opts: PipelineOptions, work_dir: Path, *, all_pages: bool = False) -> Document:
    """Render the pages that need an image into `work_dir`; updates the pages in place.

    By default only pages without text (`text_source == "none"`) are rendered, for OCR; a vision
    engine asks for `all_pages`. Pages that already have an image on disk are not rendered again.
    """
    todo = [
        page
        for page in doc.pages
        if (all_pages or page.text_source == "none") and not (page.image_path is not None and page.image_path.exists())
    ]
    if not todo:
        return doc
    work_dir.mkdir(parents=True, exist_ok=True)
    if doc.media_type == "application/pdf":
        _render_pdf(doc, todo, opts, work_dir)
    else:
        _write_frames(doc, todo, work_dir)
    return doc
