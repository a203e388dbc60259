"""`ledgerlens bench` on two documents: the runs it compares, the ratios, the fastest repeat kept."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from ledgerlens.pipeline.config import Config
from ledgerlens.pipeline.measure.bench import Run, bench, fastest

pytestmark = pytest.mark.slow


def test_the_fastest_of_repeated_runs_counts() -> None:
    runs = [Run("a", 1, seconds=2.0), Run("a", 1, seconds=1.5), Run("a", 1, seconds=3.0)]
    assert fastest(runs) is runs[1]


def test_bench_compares_the_pipeline_with_bare_tesseract_and_the_born_digital_path(
    samples: Path, tmp_path: Path
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("receipt_gb_cafe.pdf", "receipt_gb_cafe.scan.png"):
        shutil.copy(samples / name, docs / name)
    report = bench(docs, Config(), workers=1, repeat=2)
    assert (report["documents"], report["workers"], report["repeat"]) == (2, 1, 2)
    labels = [run["label"] for run in report["runs"]]
    assert labels == [
        "pipeline, 1 worker(s), all documents",
        "pipeline, 1 worker(s), scanned",
        "pipeline, 1 worker, scanned",
        "bare tesseract (scanned pages)",
        "pipeline, 1 worker(s), born-digital",
    ]
    assert all(run["pages"] == 1 for run in report["runs"][1:])
    assert report["runs"][0]["stages_s"]["ocr"] > 0 and report["runs"][-1]["stages_s"]["ocr"] == 0
    by_label = {run["label"]: run for run in report["runs"]}
    ref = by_label["bare tesseract (scanned pages)"]
    assert report["overhead_ratio"] == pytest.approx(
        by_label["pipeline, 1 worker(s), scanned"]["pages_per_min"] / ref["pages_per_min"], rel=0.01
    )
    assert report["born_digital_speedup"] > 1  # a text layer needs no OCR
    assert report["peak_rss_mb"]["main"] > 0


def test_bench_refuses_no_repeats(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="repeat"):
        bench(tmp_path, Config(), repeat=0)
