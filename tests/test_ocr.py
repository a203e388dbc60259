"""OCR: Tesseract's words come back with pixel boxes, confidences and reading-order lines."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from fixtures.bad_inputs import reportlab_pdf, scanned_image
from ledgerlens.pipeline.config import PipelineOptions
from ledgerlens.pipeline.errors import ConfigError, DocumentError
from ledgerlens.pipeline.read import ocr
from ledgerlens.pipeline.read.load import load_document
from ledgerlens.pipeline.read.ocr import ocr_image, parse_tsv, read_text
from ledgerlens.pipeline.read.rasterize import rasterize
from PIL import Image

OPTS = PipelineOptions(ocr_languages=("eng",))
HEADER = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext"
TSV = "\n".join(
    [
        HEADER,
        "1\t1\t0\t0\t0\t0\t0\t0\t800\t600\t-1\t",
        "2\t1\t1\t0\t0\t0\t10\t10\t300\t40\t-1\t",
        "5\t1\t1\t1\t1\t1\t10\t10\t120\t30\t96.5\tInvoice",
        "5\t1\t1\t1\t1\t2\t140\t10\t90\t30\t91\tNo.",
        "5\t1\t1\t1\t2\t1\t10\t50\t80\t30\t88\tDate",
        "5\t1\t1\t1\t2\t2\t100\t50\t5\t30\t-1\t ",
        "5\t1\t2\t1\t1\t1\t500\t10\t100\t30\t45.25\t42",
        "",
    ]
)


def test_parse_tsv_words_lines_blocks() -> None:
    words, size = parse_tsv(TSV)
    assert size == (800, 600)
    assert [(w.text, w.line, w.block) for w in words] == [
        ("Invoice", 0, 1),
        ("No.", 0, 1),
        ("Date", 1, 1),
        ("42", 2, 2),
    ]
    assert words[0].bbox == (10, 10, 130, 40)
    assert words[0].conf == pytest.approx(0.965)
    assert words[3].conf == pytest.approx(0.4525)


class FakeTesseract:
    """Stands in for subprocess.run: records the calls, answers like the tesseract CLI."""

    def __init__(self, langs: str = "eng\ndeu", raise_timeout: bool = False) -> None:
        self.calls: list[tuple[list[str], dict[str, str]]] = []
        self.langs = langs
        self.raise_timeout = raise_timeout

    def __call__(self, cmd: list[str], **kw: object) -> subprocess.CompletedProcess[bytes]:
        self.calls.append((cmd, kw["env"]))  # type: ignore[arg-type]
        if "--list-langs" in cmd:
            out = f'List of available languages in "/x/" (2):\n{self.langs}\n'
            return subprocess.CompletedProcess(cmd, 0, out.encode(), b"")
        if self.raise_timeout:
            raise subprocess.TimeoutExpired(cmd, kw["timeout"])  # type: ignore[arg-type]
        return subprocess.CompletedProcess(cmd, 0, TSV.encode(), b"")


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeTesseract:
    ocr.installed_languages.cache_clear()
    fake = FakeTesseract()
    monkeypatch.setattr(ocr.subprocess, "run", fake)
    yield fake
    ocr.installed_languages.cache_clear()


def test_tesseract_runs_single_threaded_with_languages_and_dpi(fake: FakeTesseract, tmp_path: Path) -> None:
    image = tmp_path / "page.png"
    Image.new("L", (800, 600), 255).save(image)
    words, size = ocr_image(image, languages=("eng", "deu"), psm=6, dpi=300, timeout_s=7)
    assert size == (800, 600) and len(words) == 4
    cmd, env = fake.calls[-1]
    assert env["OMP_THREAD_LIMIT"] == "1"
    assert cmd[:3] == ["tesseract", str(image), "stdout"]
    assert cmd[cmd.index("-l") + 1] == "eng+deu"
    assert cmd[cmd.index("--psm") + 1] == "6"
    assert cmd[cmd.index("--dpi") + 1] == "300"
    assert cmd[-1] == "tsv"


def test_timeout_is_a_permanent_document_error(fake: FakeTesseract, tmp_path: Path) -> None:
    fake.raise_timeout = True
    image = tmp_path / "page.png"
    Image.new("L", (800, 600), 255).save(image)
    with pytest.raises(DocumentError) as info:
        ocr_image(image, languages=("eng",), timeout_s=3)
    assert (info.value.code, info.value.stage, info.value.transient) == ("ocr_timeout", "ocr", False)
    assert "3 s" in info.value.message


def test_missing_language_pack_is_named(fake: FakeTesseract, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        ocr_image(tmp_path / "page.png", languages=("eng", "ita"))
    assert "ita" in str(info.value) and "apt-get install tesseract-ocr-ita" in str(info.value)


def test_missing_tesseract_is_a_config_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(ocr, "TESSERACT", "tesseract-not-installed-here")
    with pytest.raises(ConfigError) as info:
        ocr_image(tmp_path / "page.png", languages=("eng",))
    assert "apt-get install tesseract-ocr" in str(info.value)


# --- real Tesseract -----------------------------------------------------------------------------

LINES = ["ACME SUPPLIES LTD", "Invoice 2024-0117", "Total due 1,234.56"]


def test_scanned_pdf_page_is_read_with_pixel_boxes(tmp_path: Path) -> None:
    # A scan of a born-digital page: same layout, but no text layer, so OCR must find the words.
    pdf_path = tmp_path / "scan.pdf"
    scanned_image([LINES], dpi=150, size=(420, 200))[0].save(pdf_path, "PDF", resolution=150)
    doc = load_document(pdf_path, OPTS)
    assert doc.pages[0].text_source == "none"
    rasterize(doc, OPTS, tmp_path / "work")
    read_text(doc, OPTS)
    page = doc.pages[0]
    assert page.text_source == "ocr"
    with Image.open(page.image_path) as im:
        assert (page.width, page.height) == im.size
    assert page.text.splitlines() == LINES
    total = next(w for w in page.words if w.text == "1,234.56")
    # reportlab drew line 3 with its baseline 72 + 40 pt from the top, at x = 72 pt: in pixels at 200 DPI:
    scale = 200 / 72
    assert total.x0 > 72 * scale and total.y1 == pytest.approx((72 + 40) * scale, abs=8)
    assert 0.5 < total.conf <= 1.0
    assert all(0 <= w.x0 < w.x1 <= page.width and 0 <= w.y0 < w.y1 <= page.height for w in page.words)


def test_phone_photo_with_exif_rotation_is_read_upright(tmp_path: Path) -> None:
    upright = scanned_image([LINES], dpi=150, size=(420, 200))[0]
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "photo.jpg"
    upright.transpose(Image.Transpose.ROTATE_90).save(path, exif=exif, quality=92)
    doc = load_document(path, OPTS)
    assert (doc.pages[0].width, doc.pages[0].height) == upright.size
    rasterize(doc, OPTS, tmp_path / "work")
    read_text(doc, OPTS)
    assert "1,234.56" in doc.pages[0].text and "Invoice" in doc.pages[0].text


def test_read_text_leaves_text_layer_pages_alone(tmp_path: Path, fake: FakeTesseract) -> None:
    path = tmp_path / "born_digital.pdf"
    path.write_bytes(reportlab_pdf([["Invoice 2024-0117 from ACME SUPPLIES LTD"]]))
    doc = load_document(path, OPTS)
    rasterize(doc, OPTS, tmp_path / "work", all_pages=True)
    before = list(doc.pages[0].words)
    read_text(doc, OPTS)
    assert doc.pages[0].words == before and doc.pages[0].text_source == "text_layer"
    assert not [cmd for cmd, _ in fake.calls if "tsv" in cmd]


def test_blank_page_gives_ocr_with_no_words(tmp_path: Path) -> None:
    path = tmp_path / "blank.png"
    Image.new("L", (400, 300), 255).save(path)
    doc = load_document(path, OPTS)
    rasterize(doc, OPTS, tmp_path / "work")
    read_text(doc, OPTS)
    assert doc.pages[0].text_source == "ocr" and doc.pages[0].words == []
