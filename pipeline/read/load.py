"""Load a file into a `Document`: identify it by content, check it, and read its pages.

The extension is never trusted: a PNG named .jpg loads as a PNG, a Word file named .pdf is
refused as a Word file. Every refusal is a `DocumentError` with a message a person can act on.
PDF pages get their text-layer words here (cheap); pages without one are left for OCR.
An XML e-invoice (recognised by its root element and namespace, `xmlhead.py`) has no pages:
the XML is the data, read by `check/einvoice`. Other XML, and any XML with a DTD, is refused.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import warnings
from pathlib import Path
from typing import BinaryIO

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from ledgerlens.pipeline.config import PipelineOptions
from ledgerlens.pipeline.errors import DocumentError
from ledgerlens.pipeline.read.textlayer import display_size, text_layer_words
from ledgerlens.pipeline.read.xmlhead import EINVOICE_NAMES, MAX_XML_BYTES, XmlHead, read_xml_head, unsafe_reason
from ledgerlens.pipeline.types import Document, Page
from PIL import Image

XML = "application/xml"  # an e-invoice: any other XML is refused at load
SUPPORTED = ("application/pdf", "image/jpeg", "image/png", "image/tiff", XML)
SUPPORTED_NAMES = "PDF, JPEG, PNG, TIFF or XML e-invoice"
_PIL_FORMATS = {"image/jpeg": ["JPEG"], "image/png": ["PNG"], "image/tiff": ["TIFF"]}
HEAD_BYTES = 64 * 1024
_CHUNK = 1024 * 1024

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
ODT = "application/vnd.oasis.opendocument.text"
ODS = "application/vnd.oasis.opendocument.spreadsheet"
ODP = "application/vnd.oasis.opendocument.presentation"
OLE = "application/x-ole-storage"

# What a person calls each type we can name but not read, and what to do about it.
_EXPORT_PDF = "Open it and save or print it as PDF, then drop the PDF instead."
_CONVERT_IMAGE = "Convert it to PNG, JPEG or PDF (open it and export it), then drop that file instead."
_GET_PDF = "Ask the sender for the PDF, or print the page to PDF, and drop that instead."
DESCRIPTIONS: dict[str, tuple[str, str]] = {
    DOCX: ("a Word document (.docx)", _EXPORT_PDF),
    XLSX: ("an Excel workbook (.xlsx)", _EXPORT_PDF),
    PPTX: ("a PowerPoint presentation (.pptx)", _EXPORT_PDF),
    ODT: ("an OpenDocument text (.odt)", _EXPORT_PDF),
    ODS: ("an OpenDocument spreadsheet (.ods)", _EXPORT_PDF),
    ODP: ("an OpenDocument presentation (.odp)", _EXPORT_PDF),
    "application/epub+zip": ("an e-book (.epub)", _EXPORT_PDF),
    "application/zip": ("a ZIP archive", "Unzip it and drop the PDF or image files it contains."),
    OLE: ("an old-style Microsoft Office file (.doc, .xls or .msg)", _EXPORT_PDF),
    "application/rtf": ("a rich-text document (.rtf)", _EXPORT_PDF),
    "image/gif": ("a GIF image", _CONVERT_IMAGE),
    "image/bmp": ("a BMP image", _CONVERT_IMAGE),
    "image/webp": ("a WebP image", _CONVERT_IMAGE),
    "image/heic": ("a HEIC photo (iPhone format)", _CONVERT_IMAGE),
    "image/avif": ("an AVIF image", _CONVERT_IMAGE),
    "text/html": ("a web page (HTML)", _GET_PDF),
    XML: ("an XML file", "Drop the document as PDF or image; XML is read only when it is an e-invoice."),
    "text/plain": ("a plain text file", _GET_PDF),
}

_ODF_TYPES = {t.encode(): t for t in (ODT, ODS, ODP, "application/epub+zip")}
_OOXML_PARTS = ((b"word/", DOCX), (b"xl/", XLSX), (b"ppt/", PPTX))
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}


def _sniff_zip(head: bytes) -> str:
    # ODF and EPUB store an uncompressed "mimetype" member first; OOXML names its parts by folder.
    if head[30:38] == b"mimetype":
        for marker, media_type in _ODF_TYPES.items():
            if head[38:].startswith(marker):
                return media_type
    for part, media_type in _OOXML_PARTS:
        if part in head:
            return media_type
    return "application/zip"


def _sniff_text(head: bytes) -> str | None:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "text/plain"  # UTF-16 with a byte-order mark
    if b"\x00" in head or any(b < 0x20 and b not in b"\t\n\r\f" for b in head):
        return None
    start = head.removeprefix(b"\xef\xbb\xbf").lstrip().lower()
    if start.startswith((b"<!doctype html", b"<html")):
        return "text/html"
    if start.startswith(b"<"):
        xml = read_xml_head(head)  # XHTML is XML whose root is <html>
        return "text/html" if xml is not None and xml.local.lower() == "html" else XML
    return "text/plain"


def sniff_media_type(head: bytes) -> str | None:
    """The media type of a file from its first bytes (magic numbers only), None when unknown."""
    if not head:
        return None
    if b"%PDF-" in head[:1024]:  # readers accept junk before the header, within 1 KiB
        return "application/pdf"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "image/tiff"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _sniff_zip(head)
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head.startswith(b"BM") and int.from_bytes(head[14:18], "little") in (12, 40, 52, 56, 64, 108, 124):
        return "image/bmp"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
        return "image/heic"
    if head[4:8] == b"ftyp" and head[8:12] in (b"avif", b"avis"):
        return "image/avif"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return OLE
    if head.startswith(b"{\\rtf"):
        return "application/rtf"
    return _sniff_text(head)


def _error(code: str, message: str, hint: str, page: int | None = None) -> DocumentError:
    return DocumentError(code, message, stage="load", hint=hint, page=page)


def file_sha256(path: Path) -> str:
    """A file's identity: the sha256 of its bytes."""
    return _hash_file(path)[0]


def _hash_file(path: Path) -> tuple[str, bytes]:
    digest = hashlib.sha256()
    head = b""
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            if not head:
                head = chunk[:HEAD_BYTES]
            digest.update(chunk)
    return digest.hexdigest(), head


def _unsupported(media_type: str | None, head: bytes, suffix: str) -> DocumentError:
    if media_type is None:
        if suffix == ".pdf":
            return _error(
                "corrupt_pdf",
                "The file is named .pdf but does not contain a PDF (no %PDF- header): "
                "it is damaged or is something else renamed.",
                "Download or export the PDF again and drop the new copy.",
            )
        if suffix in (".jpg", ".jpeg", ".png", ".tif", ".tiff"):
            return _error(
                "corrupt_image",
                f"The file is named {suffix} but its content is not a readable image.",
                "Scan or export the image again and drop the new copy.",
            )
        return _error(
            "unsupported_format",
            f"The file's content is not recognised (it starts with {head[:8].hex(' ')}); "
            f"only {SUPPORTED_NAMES} files can be read.",
            f"Convert it to PDF or to an image ({SUPPORTED_NAMES}) and drop that instead.",
        )
    what, hint = DESCRIPTIONS.get(media_type, (f"a {media_type} file", _GET_PDF))
    return _error("unsupported_format", f"This is {what}, not a PDF or image.", hint)


def load_document(path: Path, opts: PipelineOptions, source_name: str | None = None) -> Document:
    """Identify, check and open one file; raise `DocumentError` (stage "load") when it cannot be used."""
    size = path.stat().st_size
    if size == 0:
        raise _error(
            "empty_file",
            "The file is empty (0 bytes).",
            "The upload, download or scan did not finish; get the file again.",
        )
    if size > opts.max_file_mb * 1024 * 1024:
        raise _error(
            "file_too_large",
            f"The file is {size / 1024 / 1024:,.1f} MB, over the limit of {opts.max_file_mb} MB.",
            "Split it into smaller files, or raise pipeline.max_file_mb in ledgerlens.toml.",
        )
    sha256, head = _hash_file(path)
    media_type = sniff_media_type(head)
    if media_type not in SUPPORTED:
        raise _unsupported(media_type, head, path.suffix.lower())
    if media_type == XML:
        _check_einvoice_xml(path, size)
        pages: list[Page] = []
    elif media_type == "application/pdf":
        pages = _load_pdf(path, opts)
    else:
        pages = _load_image(path, media_type, opts)
    return Document(
        sha256=sha256,
        path=path,
        source_name=source_name or path.name,
        media_type=media_type,
        size_bytes=size,
        pages=pages,
    )


# --- XML e-invoices ---------------------------------------------------------------------------


def _check_einvoice_xml(path: Path, size: int) -> XmlHead:
    """An XML file is taken only when it is an e-invoice without a DTD; the syntax is named by its root."""
    if size > MAX_XML_BYTES:
        raise _error(
            "file_too_large",
            f"The XML file is {size / 1024 / 1024:,.1f} MB, over the limit of {MAX_XML_BYTES // 1_000_000} MB "
            "for an e-invoice (no genuine invoice comes near it).",
            "Check the file; an invoice with large attachments should carry them as separate files.",
        )
    head = read_xml_head(path.read_bytes())
    if head is not None and head.doctype is not None:
        raise DocumentError(
            "unsafe_xml",
            f"The XML file was refused: {unsafe_reason(head.doctype)}.",
            stage="load",
            hint="Ask the sender for the e-invoice as generated by their invoicing software (without a DOCTYPE).",
        )
    if head is None or head.root is None:
        raise _error(
            "unsupported_format",
            "This is an XML file whose root element could not be found; only XML e-invoices are read.",
            "Drop the document as PDF or image instead.",
        )
    if head.syntax is None:
        raise _error(
            "unsupported_format",
            f"This is an XML file whose root element is {head.describe()}, not an e-invoice ({EINVOICE_NAMES}).",
            "Only XML e-invoices are read from XML; drop other documents as PDF or image.",
        )
    return head


# --- PDF --------------------------------------------------------------------------------------


def _check_complete(f: BinaryIO) -> None:
    # A PDF ends with %%EOF (readers allow 1 KiB of trailing junk). pdfium can open some cut-off
    # files (linearized ones) and would silently lose the missing pages.
    f.seek(0, os.SEEK_END)
    f.seek(max(0, f.tell() - 1024))
    if b"%%EOF" not in f.read():
        raise _error(
            "corrupt_pdf",
            "The PDF is incomplete: its end is missing, so the file was probably cut off.",
            "Download or export the PDF again and drop the new copy.",
        )


_PAGE_OBJECT = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")
_EMPTY_PAGE_TREE = re.compile(rb"/Count\s+0(?![0-9])")


def _open_pdf(f: BinaryIO) -> pdfium.PdfDocument:
    # From our own file object, not a path: pdfium leaks its file descriptor when a load fails.
    try:
        return pdfium.PdfDocument(f, autoclose=False)
    except pdfium.PdfiumError as e:
        err_code = e.err_code
    # pdfium's last-error code is left over from an earlier failure when a failure sets none,
    # so each diagnosis is confirmed from the file's bytes.
    f.seek(0)
    data = f.read()
    if err_code in (pdfium_c.FPDF_ERR_PASSWORD, pdfium_c.FPDF_ERR_SECURITY) and b"/Encrypt" in data:
        if err_code == pdfium_c.FPDF_ERR_SECURITY:
            raise _error(
                "password_protected",
                "The PDF is encrypted with a protection scheme that cannot be opened here.",
                "Open it in the application it came from and print an unprotected copy to PDF.",
            )
        raise _error(
            "password_protected",
            "The PDF is protected by a password, so it cannot be opened.",
            "Open it with the password and save or print an unprotected copy, then drop that.",
        )
    if _EMPTY_PAGE_TREE.search(data) and not _PAGE_OBJECT.search(data):
        raise _error("no_pages", "The PDF has no pages.", "Export or download the document again.")
    raise _error(
        "corrupt_pdf",
        "The PDF is damaged and cannot be opened.",
        "Download or export the PDF again and drop the new copy.",
    )


def _check_page_pixels(index: int, width: float, height: float, opts: PipelineOptions) -> None:
    px_w, px_h = math.ceil(width * opts.dpi / 72), math.ceil(height * opts.dpi / 72)  # as poppler does
    if px_w * px_h > opts.max_image_pixels:
        raise _error(
            "page_too_large",
            f"Page {index + 1} is {width:,.0f} × {height:,.0f} pt ({width / 72:,.1f} × {height / 72:,.1f} in); "
            f"at {opts.dpi} DPI that is {px_w:,} × {px_h:,} = {px_w * px_h:,} pixels, "
            f"over the limit of {opts.max_image_pixels:,}.",
            "Check the page size in a PDF viewer. If the document is genuine, lower pipeline.dpi "
            "or raise pipeline.max_image_pixels in ledgerlens.toml.",
            page=index + 1,
        )


def _check_page_count(count: int, what: str, opts: PipelineOptions) -> None:
    if count > opts.max_pages:
        raise _error(
            "too_many_pages",
            f"The {what} has {count:,} pages, over the limit of {opts.max_pages:,}.",
            "Split it into smaller files, or raise pipeline.max_pages in ledgerlens.toml.",
        )


def _load_pdf(path: Path, opts: PipelineOptions) -> list[Page]:
    with path.open("rb") as f:
        _check_complete(f)
        pdf = _open_pdf(f)
        try:
            count = len(pdf)
            if count == 0:
                raise _error("no_pages", "The PDF has no pages.", "Export or download the document again.")
            _check_page_count(count, "PDF", opts)
            return [_read_pdf_page(pdf, i, opts) for i in range(count)]
        finally:
            pdf.close()


def _read_pdf_page(pdf: pdfium.PdfDocument, index: int, opts: PipelineOptions) -> Page:
    try:
        page = pdf[index]
    except pdfium.PdfiumError:
        raise _error(
            "corrupt_pdf",
            f"Page {index + 1} of the PDF is damaged and cannot be read.",
            "Download or export the PDF again and drop the new copy.",
            page=index + 1,
        ) from None
    try:
        width, height = display_size(page)
        if width <= 0 or height <= 0:
            raise _error(
                "corrupt_pdf",
                f"Page {index + 1} of the PDF has no size ({width} × {height} pt).",
                "Download or export the PDF again and drop the new copy.",
                page=index + 1,
            )
        _check_page_pixels(index, width, height, opts)
        words = text_layer_words(page, opts.min_text_layer_chars)
    finally:
        page.close()
    return Page(index, width, height, words=words, text_source="text_layer" if words else "none")


# --- images -----------------------------------------------------------------------------------

_ROTATED_ORIENTATIONS = (5, 6, 7, 8)  # EXIF orientations that swap width and height
_BOMB_PIXELS = re.compile(r"\((\d+) pixels\)")


def _too_large(pixels: int | None, opts: PipelineOptions, size: tuple[int, int] | None = None) -> DocumentError:
    if size:
        what = f"{size[0]:,} × {size[1]:,} = {size[0] * size[1]:,} pixels"
    else:
        what = f"{pixels:,} pixels" if pixels else "larger than Pillow's own safety limit"
    return _error(
        "image_too_large",
        f"The image is {what}, over the limit of {opts.max_image_pixels:,} "
        "(its header may be forged to exhaust memory).",
        "If the image is genuine, scale it down or raise pipeline.max_image_pixels in ledgerlens.toml.",
    )


def _corrupt_image(detail: object) -> DocumentError:
    return _error(
        "corrupt_image",
        f"The image is damaged or incomplete and cannot be decoded ({detail}).",
        "Scan or export the image again and drop the new copy.",
    )


def _load_image(path: Path, media_type: str, opts: PipelineOptions) -> list[Page]:
    try:
        # Our own limit (opts.max_image_pixels) is checked below; Pillow's warning is redundant.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path, formats=_PIL_FORMATS[media_type]) as im:
                frames = getattr(im, "n_frames", 1) if media_type == "image/tiff" else 1
                _check_page_count(frames, "image", opts)
                return [_read_frame(im, i, opts) for i in range(frames)]
    except Image.DecompressionBombError as e:
        match = _BOMB_PIXELS.search(str(e))
        raise _too_large(int(match.group(1)) if match else None, opts) from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError) as e:
        # Pillow reports damaged data with all of these (UnidentifiedImageError is an OSError).
        raise _corrupt_image(e) from None


def _read_frame(im: Image.Image, index: int, opts: PipelineOptions) -> Page:
    im.seek(index)
    width, height = im.size
    if width * height > opts.max_image_pixels:
        raise _too_large(None, opts, (width, height))
    orientation = im.getexif().get(0x0112, 1)
    if im.format == "JPEG":
        # Decode at 1/8 scale: the whole stream is still read (so truncation is caught), ~6× faster.
        im.draft(im.mode, (max(1, width // 8), max(1, height // 8)))
    im.load()
    if orientation in _ROTATED_ORIENTATIONS:
        width, height = height, width
    return Page(index, float(width), float(height))
