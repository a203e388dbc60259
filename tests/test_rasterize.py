"""Rasterizing: which pages get an image, in which unit system they end up, and upright images."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from fixtures.bad_inputs import reportlab_pdf
from ledgerlens.pipeline.config import PipelineOptions
from ledgerlens.pipeline.errors import DocumentError
from ledgerlens.pipeline.read.load import load_document
from ledgerlens.pipeline.read.rasterize import rasterize
from PIL import Image
from reportlab.pdfgen import canvas

OPTS = PipelineOptions(dpi=100)
A4_AT_100_DPI = (827, 1170)  # 595 × 842 pt, rounded up by poppler


def _boxes_only_pdf(pages: int) -> bytes:
    """A 'scan': vector shapes, no text layer."""
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=(595, 842), invariant=1)
    for n in range(pages):
        c.rect(72, 700 - 20 * n, 200, 50, fill=1)
        c.showPage()
    c.save()
    return buf.getvalue()


def _load(tmp_path: Path, name: str, data: bytes) -> tuple:
    path = tmp_path / name
    path.write_bytes(data)
    return load_document(path, OPTS), tmp_path / "work"


def test_pages_without_text_are_rendered_in_pixels(tmp_path: Path) -> None:
    doc, work = _load(tmp_path, "scan.pdf", _boxes_only_pdf(3))
    assert [p.text_source for p in doc.pages] == ["none"] * 3
    rasterize(doc, OPTS, work)
    for page in doc.pages:
        assert page.image_path is not None and page.image_path.parent == work
        assert page.dpi == 100
        with Image.open(page.image_path) as im:
            assert im.size == A4_AT_100_DPI
        assert (page.width, page.height) == A4_AT_100_DPI
    assert len({p.image_path for p in doc.pages}) == 3


def test_text_layer_pages_are_skipped_unless_all_pages(tmp_path: Path) -> None:
    pages = [[f"Statement page {n}", "Opening balance 1,000.00 EUR"] for n in range(1, 4)]
    doc, work = _load(tmp_path, "born_digital.pdf", reportlab_pdf(pages))
    rasterize(doc, OPTS, work)
    assert all(p.image_path is None for p in doc.pages)

    rasterize(doc, OPTS, work, all_pages=True)
    assert len(list(work.iterdir())) == 3
    for page in doc.pages:
        with Image.open(page.image_path) as im:
            assert im.size == A4_AT_100_DPI
        # The words stay in points, and so does their page.
        assert (page.width, page.height) == (595, 842)
        assert page.text_source == "text_layer" and page.dpi == 100


def test_mixed_document_renders_only_the_scanned_page(tmp_path: Path) -> None:
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=(595, 842), invariant=1)
    c.drawString(72, 770, "Cover letter with enough text to count as a text layer")
    c.showPage()
    c.rect(72, 600, 300, 100, fill=1)
    c.showPage()
    c.save()
    doc, work = _load(tmp_path, "mixed.pdf", buf.getvalue())
    rasterize(doc, OPTS, work)
    assert doc.pages[0].image_path is None
    assert doc.pages[1].image_path is not None and doc.pages[1].image_path.name == "page-0002.ppm"


def test_crop_box_is_what_gets_rendered(tmp_path: Path) -> None:
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=(595, 842), invariant=1)
    c.setCropBox((0, 0, 360, 720))
    c.rect(10, 10, 100, 100, fill=1)
    c.showPage()
    c.save()
    doc, work = _load(tmp_path, "cropped.pdf", buf.getvalue())
    assert (doc.pages[0].width, doc.pages[0].height) == (360, 720)
    rasterize(doc, OPTS, work)
    assert (doc.pages[0].width, doc.pages[0].height) == (500, 1000)


def test_rotated_page_words_land_on_their_ink(tmp_path: Path) -> None:
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=(595, 842), invariant=1)
    c.setPageRotation(90)
    c.translate(100, 150)
    c.rotate(90)
    c.setFont("Helvetica-Bold", 24)
    c.drawString(0, 0, "ROTATED STATEMENT TOTAL 99.00")
    c.save()
    doc, work = _load(tmp_path, "rotated.pdf", buf.getvalue())
    rasterize(doc, OPTS, work, all_pages=True)
    page = doc.pages[0]
    assert page.text == "ROTATED STATEMENT TOTAL 99.00"
    ink = np.asarray(Image.open(page.image_path).convert("L")) < 128
    scale = 100 / 72
    inside = np.zeros_like(ink)
    for w in page.words:
        x0, y0, x1, y1 = (round(v * scale) for v in w.bbox)
        assert ink[y0:y1, x0:x1].mean() > 0.1, w.text
        inside[y0 - 1 : y1 + 2, x0 - 1 : x1 + 2] = True  # antialiased edges
    assert ink[~inside].sum() == 0


def test_multi_page_tiff_writes_one_image_per_frame(tmp_path: Path) -> None:
    path = tmp_path / "fax.tif"
    frames = [Image.new("1", (200, 300), 1) for _ in range(4)]
    frames[0].save(path, save_all=True, append_images=frames[1:], compression="group4", dpi=(204, 196))
    doc = load_document(path, OPTS)
    rasterize(doc, OPTS, tmp_path / "work")
    assert len(doc.pages) == 4
    for page in doc.pages:
        with Image.open(page.image_path) as im:
            assert (im.size, im.mode) == ((200, 300), "L")
        assert page.dpi == 204


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    upright = Image.new("L", (300, 400), 255)
    upright.paste(0, (0, 0, 300, 40))  # a black band along the top
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # what the camera wrote (400 × 300)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    path = tmp_path / "photo.jpg"
    stored.save(path, exif=exif, quality=95)
    doc = load_document(path, OPTS)
    rasterize(doc, OPTS, tmp_path / "work")
    page = doc.pages[0]
    assert (page.width, page.height) == (300, 400)
    pixels = np.asarray(Image.open(page.image_path).convert("L"))
    assert pixels.shape == (400, 300)
    assert pixels[:30].mean() < 40 and pixels[60:].mean() > 215


def test_transparent_png_is_flattened_onto_white(tmp_path: Path) -> None:
    im = Image.new("RGBA", (120, 80), (0, 0, 0, 0))  # transparent black
    im.paste((0, 0, 0, 255), (10, 10, 50, 50))
    path = tmp_path / "logo.png"
    im.save(path)
    doc = load_document(path, OPTS)
    rasterize(doc, OPTS, tmp_path / "work")
    out = np.asarray(Image.open(doc.pages[0].image_path))
    assert out.shape == (80, 120, 3)
    assert out[70, 100].tolist() == [255, 255, 255] and out[20, 20].tolist() == [0, 0, 0]


def test_sixteen_bit_greyscale_keeps_its_contrast(tmp_path: Path) -> None:
    arr = np.full((50, 60), 60000, dtype=np.uint16)
    arr[:, :30] = 1000
    path = tmp_path / "scan16.png"
    Image.fromarray(arr).save(path)
    doc = load_document(path, OPTS)
    rasterize(doc, OPTS, tmp_path / "work")
    out = np.asarray(Image.open(doc.pages[0].image_path))
    assert out[0, 0] < 10 and out[0, 59] > 230


def test_render_failure_is_a_document_error(tmp_path: Path) -> None:
    doc, work = _load(tmp_path, "scan.pdf", _boxes_only_pdf(1))
    doc.path.write_bytes(b"%PDF-1.4\nnot really\n%%EOF\n")  # damaged after loading
    with pytest.raises(DocumentError) as info:
        rasterize(doc, OPTS, work)
    assert (info.value.stage, info.value.code) == ("rasterize", "render_failed")
    assert doc.pages[0].image_path is None


def test_rendering_twice_reuses_the_images(tmp_path: Path) -> None:
    doc, work = _load(tmp_path, "scan.pdf", _boxes_only_pdf(2))
    rasterize(doc, OPTS, work)
    first = [p.image_path.stat().st_mtime_ns for p in doc.pages]
    rasterize(doc, OPTS, work, all_pages=True)
    assert [p.image_path.stat().st_mtime_ns for p in doc.pages] == first
    assert sorted(f.name for f in work.iterdir()) == ["page-0001.ppm", "page-0002.ppm"]
