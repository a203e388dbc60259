"""Loading: identify files by content, refuse bad ones with a useful message, read text layers."""

from __future__ import annotations

import ctypes
import hashlib
import io
import os
import pickle
import time
import zipfile
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest
from fixtures.bad_inputs import (
    make_bad_inputs,
    minimal_docx,
    noisy_image,
    png_bomb,
    reportlab_pdf,
    unmapped_font_pdf,
)
from ledgerlens.pipeline.config import PipelineOptions
from ledgerlens.pipeline.errors import DocumentError
from ledgerlens.pipeline.read.load import load_document, sniff_media_type
from ledgerlens.pipeline.read.textlayer import display_size, display_transform, text_layer_words
from PIL import Image, ImageFile
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

OPTS = PipelineOptions()


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    folder = tmp_path_factory.mktemp("bad")
    return folder, make_bad_inputs(folder)


def _outcome(path: Path, opts: PipelineOptions = OPTS) -> DocumentError | None:
    try:
        load_document(path, opts)
    except DocumentError as e:
        return e
    return None


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_every_bad_input_gets_its_error_code(bad_inputs: tuple[Path, dict[str, str]]) -> None:
    folder, cases = bad_inputs
    got = {}
    for name in cases:
        error = _outcome(folder / name)
        got[name] = error.code if error else ""
    assert got == cases


def test_errors_explain_themselves_to_a_person(bad_inputs: tuple[Path, dict[str, str]]) -> None:
    folder, cases = bad_inputs
    for name, code in cases.items():
        if not code:
            continue
        error = _outcome(folder / name)
        assert error is not None and error.stage == "load"
        assert error.message[0].isupper() and error.message.endswith((".", ")")), (name, error.message)
        assert len(error.hint) > 20, (name, error.hint)
        assert "Error" not in error.message and "Traceback" not in error.message, (name, error.message)


@pytest.mark.parametrize(
    ("name", "fragments"),
    [
        ("letter.docx", ["Word document (.docx)", "not a PDF or image"]),
        ("notes.pdf", ["plain text file"]),
        ("huge_page.pdf", ["Page 1", "14,400 × 14,400 pt", "1,600,000,000 pixels", "100,000,000"]),
        ("bomb.png", ["900,000,000 pixels", "100,000,000"]),
        ("password.pdf", ["password"]),
        ("truncated.pdf", ["cut off"]),
        ("truncated.jpg", ["damaged or incomplete"]),
        ("empty.pdf", ["empty"]),
    ],
)
def test_error_messages_name_the_problem(
    bad_inputs: tuple[Path, dict[str, str]], name: str, fragments: list[str]
) -> None:
    folder, _ = bad_inputs
    error = _outcome(folder / name)
    assert error is not None
    for fragment in fragments:
        assert fragment in error.message


def test_page_too_large_names_the_page(tmp_path: Path) -> None:
    path = tmp_path / "two.pdf"
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=(595, 842), invariant=1)
    c.showPage()
    c.setPageSize((5000, 5000))
    c.showPage()
    c.save()
    path.write_bytes(buf.getvalue())
    error = _outcome(path)
    assert error is not None and error.code == "page_too_large" and error.page == 2
    assert "Page 2" in error.message
    assert load_document(path, PipelineOptions(dpi=72)).pages[1].width == pytest.approx(5000)


def test_a_png_named_jpg_loads_as_png(bad_inputs: tuple[Path, dict[str, str]]) -> None:
    folder, _ = bad_inputs
    doc = load_document(folder / "really_png.jpg", OPTS)
    assert doc.media_type == "image/png"
    assert [(p.width, p.height, p.text_source) for p in doc.pages] == [(320, 240, "none")]


def test_owner_password_only_pdf_opens_and_reads(bad_inputs: tuple[Path, dict[str, str]]) -> None:
    folder, _ = bad_inputs
    doc = load_document(folder / "owner_password_only.pdf", OPTS)
    assert doc.pages[0].text_source == "text_layer"
    assert doc.pages[0].text == "Invoice total 100.00 EUR payable"


def test_loading_leaks_no_file_handles(bad_inputs: tuple[Path, dict[str, str]]) -> None:
    folder, cases = bad_inputs
    for name in cases:  # warm up lazy imports and caches first
        _outcome(folder / name)
    before = _open_fds()
    for _ in range(3):
        for name in cases:
            _outcome(folder / name)
    assert _open_fds() == before


def test_document_identity_hash_and_size(tmp_path: Path) -> None:
    data = reportlab_pdf([["Invoice 42", "Total 10.00 EUR to pay in full"]])
    path = tmp_path / "in.pdf"
    path.write_bytes(data)
    doc = load_document(path, OPTS, source_name="invoice 42.pdf")
    assert doc.sha256 == hashlib.sha256(data).hexdigest()
    assert doc.size_bytes == len(data)
    assert doc.source_name == "invoice 42.pdf"
    assert doc.media_type == "application/pdf"


def test_limits_from_options(tmp_path: Path) -> None:
    big = tmp_path / "big.pdf"
    big.write_bytes(b"%PDF-1.4\n" + b"0" * (2 * 1024 * 1024))
    error = _outcome(big, PipelineOptions(max_file_mb=1))
    assert error is not None and error.code == "file_too_large" and "over the limit of 1 MB" in error.message

    pages = tmp_path / "pages.pdf"
    pages.write_bytes(reportlab_pdf([["one"], ["two"], ["three"]]))
    error = _outcome(pages, PipelineOptions(max_pages=2))
    assert error is not None and error.code == "too_many_pages" and "3 pages" in error.message

    image = tmp_path / "large.png"
    Image.new("L", (2000, 1500), 255).save(image)
    error = _outcome(image, PipelineOptions(max_image_pixels=1_000_000))
    assert error is not None and error.code == "image_too_large"
    assert "2,000 × 1,500 = 3,000,000 pixels" in error.message


def test_bomb_is_refused_from_its_header(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(png_bomb(12_000, 10_000))  # 120 MP: below Pillow's own refusal, above ours
    assert path.stat().st_size < 2000
    error = _outcome(path)
    assert error is not None and error.code == "image_too_large"
    assert "12,000 × 10,000" in error.message


def test_truncated_images_are_not_silently_accepted() -> None:
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_multi_page_tiff_has_one_page_per_frame(tmp_path: Path) -> None:
    path = tmp_path / "scan.tif"
    frames = [Image.new("L", (300 + 10 * i, 400), 255) for i in range(3)]
    frames[0].save(path, save_all=True, append_images=frames[1:], compression="tiff_deflate")
    doc = load_document(path, OPTS)
    assert doc.media_type == "image/tiff"
    assert [(p.index, p.width, p.height) for p in doc.pages] == [(0, 300, 400), (1, 310, 400), (2, 320, 400)]
    assert all(p.text_source == "none" and not p.words for p in doc.pages)


def test_exif_rotated_jpeg_reports_upright_size(tmp_path: Path) -> None:
    path = tmp_path / "phone.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: viewers rotate 90° clockwise
    noisy_image((400, 300)).save(path, exif=exif)
    page = load_document(path, OPTS).pages[0]
    assert (page.width, page.height) == (300, 400)


# --- sniffing -----------------------------------------------------------------------------------


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def _image_bytes(fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(buf, fmt, **kw)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"%PDF-1.7\n%\xe2\xe3", "application/pdf"),
        (b"\x00\x00junk before the header %PDF-1.4\n", "application/pdf"),
        (_image_bytes("JPEG"), "image/jpeg"),
        (_image_bytes("PNG"), "image/png"),
        (_image_bytes("TIFF"), "image/tiff"),
        (b"MM\x00*\x00\x00\x00\x08", "image/tiff"),
        (_image_bytes("GIF"), "image/gif"),
        (_image_bytes("BMP"), "image/bmp"),
        (_image_bytes("WEBP"), "image/webp"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "image/heic"),
        (minimal_docx(), "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        (
            _zip({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>"}),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        (
            _zip({"mimetype": b"application/vnd.oasis.opendocument.text", "content.xml": b"<x/>"}),
            "application/vnd.oasis.opendocument.text",
        ),
        (_zip({"readme.txt": b"hello"}), "application/zip"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 24, "application/x-ole-storage"),
        (b"<!DOCTYPE html><html><body>Invoice</body></html>", "text/html"),
        (b'<?xml version="1.0"?><Invoice xmlns="urn:oasis"/>', "application/xml"),
        ("Rechnung Nr. 5\nSumme: 10,00 €\n".encode(), "text/plain"),
        (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03", None),
        (b"", None),
    ],
)
def test_sniff_by_content(head: bytes, expected: str | None) -> None:
    assert sniff_media_type(head) == expected


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (_zip({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>"}), "Excel workbook (.xlsx)"),
        (_image_bytes("GIF"), "GIF image"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "HEIC"),
        (b"<html><body>Your invoice</body></html>", "web page (HTML)"),
    ],
)
def test_unsupported_formats_are_named(tmp_path: Path, data: bytes, fragment: str) -> None:
    path = tmp_path / "upload.pdf"  # the extension must not matter
    path.write_bytes(data)
    error = _outcome(path)
    assert error is not None and error.code == "unsupported_format"
    assert fragment in error.message


# --- text layer ---------------------------------------------------------------------------------


def _two_column_pdf(path: Path) -> None:
    c = canvas.Canvas(str(path), pagesize=(595, 842), invariant=1)
    c.setFont("Helvetica", 12)
    c.drawString(72, 770, "Invoice number")
    c.drawString(350, 770, "INV-2024-001")
    c.drawString(72, 740, "Total due")
    c.drawString(350, 740, "1,234.56 EUR")
    c.setFont("Helvetica", 9)
    c.drawString(72, 100, "Thank you for your business, payable within 30 days")
    c.save()


def test_text_layer_words_boxes_and_reading_order(tmp_path: Path) -> None:
    path = tmp_path / "two_columns.pdf"
    _two_column_pdf(path)
    page = load_document(path, OPTS).pages[0]
    assert page.text_source == "text_layer"
    assert (page.width, page.height) == (595, 842)
    assert page.text.splitlines() == [
        "Invoice number INV-2024-001",
        "Total due 1,234.56 EUR",
        "Thank you for your business, payable within 30 days",
    ]
    by_text = {w.text: w for w in page.words}
    number = by_text["INV-2024-001"]
    # Drawn at x=350 with its baseline 770 pt from the bottom: 72 pt from the top, 12 pt font.
    assert number.x0 == pytest.approx(350, abs=1.5)
    assert 842 - 770 - 13 < number.y0 < 842 - 770 < number.y1 < 842 - 770 + 5
    assert by_text["Invoice"].line == number.line < by_text["Total"].line < by_text["Thank"].line
    assert by_text["Invoice"].x1 < by_text["number"].x0 < number.x0
    for w in page.words:
        assert 0 <= w.x0 < w.x1 <= page.width and 0 <= w.y0 < w.y1 <= page.height
        assert w.conf == 1.0


def test_words_split_at_gaps_without_spaces(tmp_path: Path) -> None:
    path = tmp_path / "kerned.pdf"
    c = canvas.Canvas(str(path), invariant=1)
    c.setFont("Helvetica", 12)
    c.drawString(72, 700, "Subtotal")
    c.drawString(72 + c.stringWidth("Subtotal", "Helvetica", 12) + 8, 700, "99.00")  # no space char
    c.drawString(72, 680, "Filing office affairs")  # ligature-free text that must stay as is
    c.save()
    page = load_document(path, OPTS).pages[0]
    assert [w.text for w in page.words] == ["Subtotal", "99.00", "Filing", "office", "affairs"]


def test_rotated_page_words_are_in_display_coordinates(tmp_path: Path) -> None:
    path = tmp_path / "rotated.pdf"
    c = canvas.Canvas(str(path), pagesize=(595, 842), invariant=1)
    # /Rotate 90: reportlab stores a landscape media box (842 × 595) that displays as portrait.
    c.setPageRotation(90)
    # Written upwards in user space, which reads left to right once the page is turned.
    c.translate(100, 100)
    c.rotate(90)
    c.setFont("Helvetica", 14)
    c.drawString(0, 0, "Landscape statement balance 99.00")
    c.save()
    page = load_document(path, OPTS).pages[0]
    assert (page.width, page.height) == (595, 842)
    assert page.text == "Landscape statement balance 99.00"
    assert [w.line for w in page.words] == [0, 0, 0, 0]
    # User point (100, 100) is 100 pt right of the media box's left edge and 100 pt above its
    # bottom; turned 90° clockwise, that is 100 pt from the left and 100 pt from the top.
    first = page.words[0]
    assert first.x0 == pytest.approx(100, abs=2)
    assert first.y1 == pytest.approx(100, abs=4)
    assert all(w.x0 > 99 and w.y1 <= 104 for w in page.words)


def test_undecodable_text_layer_counts_as_scanned(tmp_path: Path) -> None:
    path = tmp_path / "no_tounicode.pdf"
    path.write_bytes(unmapped_font_pdf())
    page = load_document(path, OPTS).pages[0]
    assert page.text_source == "none" and page.words == []


def test_thin_text_layer_counts_as_scanned(tmp_path: Path) -> None:
    path = tmp_path / "stamp.pdf"
    path.write_bytes(reportlab_pdf([["Scan 001"]]))  # a scanner's page label, nothing else
    page = load_document(path, OPTS).pages[0]
    assert page.text_source == "none" and page.words == []


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_display_transform_matches_pdfium_page_to_device(rotation: int) -> None:
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=(500, 700), invariant=1)
    c.setCropBox((20, 30, 420, 630))  # an offset crop box: 400 × 600 visible
    c.showPage()
    c.save()
    pdf = pdfium.PdfDocument(buf.getvalue())
    page = pdf[0]
    try:
        page.set_rotation(rotation)
        width, height = display_size(page)
        assert (width, height) == ((400, 600) if rotation in (0, 180) else (600, 400))
        transform = display_transform(page)
        for x, y in [(20, 30), (420, 630), (120, 500), (300, 100)]:
            x0, y0, _, _ = transform(x, y, x, y)
            dx, dy = ctypes.c_int(), ctypes.c_int()
            # pdfium's own page-to-device mapping, at 10 device units per point for precision.
            pdfium_c.FPDF_PageToDevice(page.raw, 0, 0, int(width * 10), int(height * 10), 0, x, y, dx, dy)
            assert (x0, y0) == pytest.approx((dx.value / 10, dy.value / 10), abs=0.2)
    finally:
        page.close()
        pdf.close()


def test_ligatures_are_spelled_out(tmp_path: Path) -> None:
    font = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    if not font.exists():
        pytest.skip("DejaVuSans.ttf not installed")
    pdfmetrics.registerFont(TTFont("DejaVuSans", str(font)))
    path = tmp_path / "ligatures.pdf"
    c = canvas.Canvas(str(path), invariant=1)
    c.setFont("DejaVuSans", 12)
    c.drawString(72, 700, "O\ufb03ce supplies: \ufb01ling cabinet, total 120.00")
    c.save()
    page = load_document(path, OPTS).pages[0]
    assert page.text == "Office supplies: filing cabinet, total 120.00"


def test_dense_page_text_layer_is_fast(tmp_path: Path) -> None:
    lines = [f"{n:03d} Widget model {n * 7} qty {n % 9 + 1} unit 12.50 EUR net {n * 1.5:.2f}" for n in range(75)]
    path = tmp_path / "dense.pdf"
    path.write_bytes(reportlab_pdf([lines], pagesize=(595, 72 + 20 * 76)))
    pdf = pdfium.PdfDocument(path)
    page = pdf[0]
    try:
        start = time.perf_counter()
        words = text_layer_words(page, 20)
        elapsed = time.perf_counter() - start
    finally:
        page.close()
        pdf.close()
    assert len(words) == 75 * 11 and len({w.line for w in words}) == 75
    assert elapsed < 0.25  # ~15 ms on a 2-core dev box; a generous bound that still catches O(n²)


def test_tiff_page_limit(tmp_path: Path) -> None:
    path = tmp_path / "fax.tif"
    frames = [Image.new("1", (100, 100), 1) for _ in range(4)]
    frames[0].save(path, save_all=True, append_images=frames[1:])
    error = _outcome(path, PipelineOptions(max_pages=3))
    assert error is not None and error.code == "too_many_pages" and "4 pages" in error.message


def test_load_errors_cross_process_boundaries(bad_inputs: tuple[Path, dict[str, str]]) -> None:
    folder, _ = bad_inputs
    error = _outcome(folder / "huge_page.pdf")
    assert error is not None
    copy = pickle.loads(pickle.dumps(error))  # process pools and Prefect results pickle it
    assert (copy.code, copy.message, copy.stage, copy.hint, copy.page, copy.transient) == (
        error.code,
        error.message,
        error.stage,
        error.hint,
        1,
        False,
    )
