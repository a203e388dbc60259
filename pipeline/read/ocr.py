"""OCR with the Tesseract command line: words, boxes (pixels), confidences, reading-order lines.

Tesseract runs as a subprocess with OMP_THREAD_LIMIT=1: its OpenMP threads thrash on a busy
machine (a dense page takes 17-22 s instead of ~2 s), and we parallelise across processes instead.

Images are OCR'd at their own size. Upscaling small receipts (short side to 1000 or 1200 px, or
×2) was measured on the 60 SROIE dev receipts and did not clearly help: a few more single fields
found, fewer receipts with company, date and total all exact, and 10-30% slower. So none is done.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ledgerlens.pipeline.config import PipelineOptions
from ledgerlens.pipeline.errors import ConfigError, DocumentError
from ledgerlens.pipeline.machine import physical_cores
from ledgerlens.pipeline.types import Document, Page, Word

TESSERACT = "tesseract"
_INSTALL_HINT = "install it with `apt-get install tesseract-ocr` (Debian/Ubuntu) or `brew install tesseract`"


def tesseract_env() -> dict[str, str]:
    return {**os.environ, "OMP_THREAD_LIMIT": "1"}


def _run(args: list[str], timeout_s: float) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            [TESSERACT, *args], capture_output=True, env=tesseract_env(), timeout=timeout_s, check=False
        )
    except FileNotFoundError:
        raise ConfigError(f"Tesseract is not installed (no `{TESSERACT}` on PATH); {_INSTALL_HINT}") from None


@functools.lru_cache(maxsize=8)
def installed_languages(tessdata_prefix: str | None = None) -> frozenset[str]:
    """Language packs Tesseract can load (cached per TESSDATA_PREFIX)."""
    proc = _run(["--list-langs"], timeout_s=30)
    lines = proc.stdout.decode("utf-8", "replace").splitlines()
    return frozenset(line.strip() for line in lines[1:] if line.strip())


def check_languages(languages: tuple[str, ...]) -> None:
    """Raise ConfigError naming the language packs Tesseract lacks."""
    missing = [lang for lang in languages if lang not in installed_languages(os.environ.get("TESSDATA_PREFIX"))]
    if missing:
        packages = " ".join(f"tesseract-ocr-{lang.lower().replace('_', '-')}" for lang in missing)
        raise ConfigError(
            f"Tesseract language pack(s) not installed: {', '.join(missing)}; "
            f"install with `apt-get install {packages}` or remove them from pipeline.ocr_languages"
        )


def parse_tsv(tsv: str) -> tuple[list[Word], tuple[int, int]]:
    """Words from Tesseract TSV (level-5 rows) and the image size (from the level-1 row)."""
    words: list[Word] = []
    lines: dict[tuple[int, int, int], int] = {}
    size = (0, 0)
    for row in tsv.splitlines()[1:]:
        cols = row.split("\t", 11)
        if len(cols) < 11:
            continue
        level = int(cols[0])
        left, top, width, height = (int(c) for c in cols[6:10])
        if level == 1:
            size = (width, height)
            continue
        text = cols[11].strip() if len(cols) > 11 else ""
        if level != 5 or not text:
            continue
        key = (int(cols[2]), int(cols[3]), int(cols[4]))
        line = lines.setdefault(key, len(lines))
        conf = max(0.0, min(float(cols[10]), 100.0)) / 100.0
        words.append(Word(text, (left, top, left + width, top + height), conf, line, key[0]))
    return words, size


def ocr_image(
    image_path: Path,
    *,
    languages: tuple[str, ...],
    psm: int = 3,
    dpi: int | None = None,
    timeout_s: int = 120,
) -> tuple[list[Word], tuple[int, int]]:
    """OCR one image; boxes are in the image's pixels. Returns (words, (width, height))."""
    if shutil.which(TESSERACT) is None:
        raise ConfigError(f"Tesseract is not installed (no `{TESSERACT}` on PATH); {_INSTALL_HINT}")
    check_languages(languages)
    args = [str(image_path), "stdout", "-l", "+".join(languages), "--psm", str(psm)]
    if dpi:
        args += ["--dpi", str(dpi)]
    try:
        proc = _run([*args, "tsv"], timeout_s=timeout_s)
    except subprocess.TimeoutExpired:
        raise DocumentError(
            "ocr_timeout",
            f"OCR of {image_path.name} took longer than {timeout_s} s and was stopped.",
            stage="ocr",
            hint="The page may be extremely dense or noisy; raise pipeline.ocr_timeout_s or rescan it.",
            transient=False,
        ) from None
    if proc.returncode != 0:
        stderr = proc.stderr.decode("utf-8", "replace").strip()
        if "Failed loading language" in stderr or "couldn't load any languages" in stderr:
            raise ConfigError(f"Tesseract could not load languages {'+'.join(languages)}: {stderr}")
        raise DocumentError(
            "ocr_failed",
            f"Tesseract could not read the page image {image_path.name}: {stderr.splitlines()[-1:]}",
            stage="ocr",
            hint="The page image may be damaged; rescan or re-export the document.",
        )
    return parse_tsv(proc.stdout.decode("utf-8", "replace"))


RECEIPT_SHAPE = 0.65  # width / height below this (A4 is 0.71): a till receipt, read as one block (psm 6)
RECEIPT_WIDTH_IN = 4.5  # or narrower than this, when the image says its resolution


def receipt_shaped(page: Page) -> bool:
    """Long and narrow, or narrower than a hand's width when the resolution is known: a till roll."""
    narrow = page.height > 0 and page.width / page.height < RECEIPT_SHAPE
    small = bool(page.dpi and page.width / page.dpi < RECEIPT_WIDTH_IN)
    return narrow or small


def page_psm(page: Page, configured: int) -> int:
    """The Tesseract page mode for a page: the configured one, or by the page's shape when 0."""
    if configured:
        return configured
    return 6 if receipt_shaped(page) else 3


# A long scan (a year of bank statements) is OCRed a page per core: Tesseract runs as a
# subprocess, so threads are enough. Short documents stay one page at a time, as the worker
# processes already keep every core busy with other documents.
PARALLEL_PAGES = 4


def read_text(doc: Document, opts: PipelineOptions, *, psm: int | None = None) -> Document:
    """OCR every page that has an image but no text yet; updates the pages in place."""
    todo = [p for p in doc.pages if p.text_source == "none" and p.image_path is not None]

    def read(page: Page) -> None:
        assert page.image_path is not None
        words, (width, height) = ocr_image(
            page.image_path,
            languages=opts.ocr_languages,
            psm=psm or page_psm(page, opts.ocr_psm),
            dpi=page.dpi,
            timeout_s=opts.ocr_timeout_s,
        )
        page.words = words
        page.text_source = "ocr"
        page.width, page.height = float(width), float(height)

    threads = min(len(todo), physical_cores()) if len(todo) >= PARALLEL_PAGES else 1
    if threads > 1:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(read, todo))  # list(): a page's error is raised here
    else:
        for page in todo:
            read(page)
    return doc
