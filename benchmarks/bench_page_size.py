"""Is the page still readable at the vision model's page size? (`make bench-vlm`, first step; no model.)

The transformers engine shrinks each page to at most `max_pixels` (visual tokens = pixels / 28²),
and the vision encoder's time grows with them. This measures what a page size keeps: each
development document's first page is rasterized at 200 DPI, Tesseract reads its words that hold a
digit (amounts, dates, numbers, IBANs) as the reference, then reads them again from the image the
model would get (`page_image`, scaled back up for Tesseract) under each page setting. Reported per
setting: visual tokens, effective DPI of the print, and the share of the reference's digit words
read again. Tesseract is a stand-in for "the digits are still in the pixels", not the model.

    python benchmarks/bench_page_size.py [--dev ../shared/benchmarks/dev] [--out build/bench-page-size.json]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FACTOR = 28
# (name, trim blank paper, max_pixels): the engine's default and the CPU page (doctor's advice), then
# trimmed pages.
SETTINGS = [
    ("full 1280*28*28", False, 1280 * 28 * 28),
    ("full 512*28*28", False, 512 * 28 * 28),
    ("trimmed 768*28*28", True, 768 * 28 * 28),
    ("trimmed 512*28*28", True, 512 * 28 * 28),
    ("trimmed 384*28*28", True, 384 * 28 * 28),
    ("trimmed 256*28*28", True, 256 * 28 * 28),
]
SOURCES = {"invoice2data": "*.pdf", "facturx_dev": "*[!l].pdf", "sroie_train": "*.jpg"}  # facturx: not .noxml.pdf


def digit_words(image: Any) -> list[str]:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    out = subprocess.run(["tesseract", "-", "-", "--psm", "3"], input=buf.getvalue(), capture_output=True, env=env)
    return [w for w in out.stdout.decode("utf-8", "replace").split() if re.search(r"\d", w)]


def first_pages(dev: Path, per_source: int, work: Path) -> list[tuple[str, Any]]:
    from ledgerlens.pipeline.config import PipelineOptions
    from ledgerlens.pipeline.read.load import load_document
    from ledgerlens.pipeline.read.rasterize import rasterize

    opts = PipelineOptions()
    pages = []
    for folder, pattern in SOURCES.items():
        for n, path in enumerate(sorted((dev / folder).glob(pattern))[:per_source]):
            doc = rasterize(load_document(path, opts), opts, work / f"{folder}{n}", all_pages=True)
            pages.append((f"{folder}/{path.name}", doc.pages[0]))
    return pages


def read_again(page: Any, trim: bool, max_pixels: int) -> dict[str, Any]:
    from ledgerlens.pipeline.engines.model.images import page_image, trim_blank, visual_tokens
    from PIL import Image

    with Image.open(page.image_path) as img:
        source = trim_blank(img.convert("RGB")) if trim else img.convert("RGB")
    model_image = page_image(page, FACTOR, 56 * 56, max_pixels, trim=trim)
    scale = source.width / model_image.width  # back to the source's 200 DPI for Tesseract
    dpi = (page.dpi or 200) / scale
    upscaled = model_image.resize((source.width, round(model_image.height * scale)), Image.Resampling.BICUBIC)
    return {"tokens": visual_tokens(model_image, FACTOR), "dpi": round(dpi), "words": digit_words(upscaled)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dev", type=Path, default=ROOT.parent / "shared" / "benchmarks" / "dev")
    parser.add_argument("--per-source", type=int, default=6, help="documents per dev source")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bench-page-size.json")
    args = parser.parse_args()
    if not args.dev.is_dir():
        print(f"no development documents at {args.dev}", file=sys.stderr)
        return 2
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name, _, _ in SETTINGS}
    with tempfile.TemporaryDirectory() as tmp:
        for name, page in first_pages(args.dev, args.per_source, Path(tmp)):
            from PIL import Image

            with Image.open(page.image_path) as img:
                reference = digit_words(img.convert("RGB"))
            for setting, trim, max_pixels in SETTINGS:
                got = read_again(page, trim, max_pixels)
                hits = sum(1 for w in reference if w in got["words"])
                rows[setting].append(
                    {"doc": name, "tokens": got["tokens"], "dpi": got["dpi"], "read": hits, "of": len(reference)}
                )
            print(
                name,
                {s: (r[-1]["tokens"], r[-1]["dpi"], f"{r[-1]['read']}/{r[-1]['of']}") for s, r in rows.items()},
                flush=True,
            )
    summary = {
        setting: {
            "documents": len(r),
            "visual_tokens_mean": round(statistics.mean(x["tokens"] for x in r)),
            "dpi_median": statistics.median(x["dpi"] for x in r),
            "digit_words_read_pct": round(100 * sum(x["read"] for x in r) / max(1, sum(x["of"] for x in r)), 1),
        }
        for setting, r in rows.items()
    }
    summary["load_average"] = os.getloadavg()  # type: ignore[assignment]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"summary": summary, "pages": rows}, indent=2), encoding="utf-8")
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
