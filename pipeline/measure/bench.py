"""`ledgerlens bench`: how fast the pipeline is on given documents, against bare Tesseract.

One run measures, on the same documents and cores:
- pages/min end to end (load -> ... -> validate, then store and export) with N workers and with 1;
- per-stage time (rasterize, ocr, extract, validate, store, export) and peak memory;
- the scanned pages through the bare `tesseract` CLI with N parallel processes (the reference:
  same images, languages and page modes), so pipeline overhead = pipeline / reference speed;
- born-digital PDFs (text layer, no OCR) against the scanned path.
"""

from __future__ import annotations

import resource
import shutil
import subprocess
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from ledgerlens.pipeline.books.store import Store
from ledgerlens.pipeline.config import Config
from ledgerlens.pipeline.engines import default_workers
from ledgerlens.pipeline.export.xlsx import export_xlsx
from ledgerlens.pipeline.intake.workspace import list_inputs
from ledgerlens.pipeline.measure.pool import WorkerPool
from ledgerlens.pipeline.read.load import load_document
from ledgerlens.pipeline.read.ocr import page_psm, tesseract_env
from ledgerlens.pipeline.read.rasterize import rasterize
from ledgerlens.pipeline.types import DocumentResult

DOC_SUFFIXES = {".pdf", ".png", ".jpg", ".jpeg", ".tif", ".tiff"}


@dataclass
class Run:
    label: str
    workers: int
    docs: int = 0
    pages: int = 0
    seconds: float = 0.0
    stages: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    @property
    def pages_per_min(self) -> float:
        return 60 * self.pages / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "workers": self.workers,
            "documents": self.docs,
            "pages": self.pages,
            "seconds": round(self.seconds, 3),
            "pages_per_min": round(self.pages_per_min, 2),
            "stages_s": {k: round(v, 3) for k, v in sorted(self.stages.items())},
        }


def documents(folder: Path) -> list[Path]:
    return [p for p in list_inputs(folder) if p.suffix.lower() in DOC_SUFFIXES]


def run_pipeline(paths: list[Path], config: Config, workers: int, label: str) -> tuple[Run, list[DocumentResult]]:
    run = Run(label, workers)
    results: list[DocumentResult] = []
    with WorkerPool(config, workers) as pool:  # warmed up: worker start-up is not timed
        start = time.perf_counter()
        for _, result, _ in pool.map(paths):
            results.append(result)
        run.seconds = time.perf_counter() - start
    for r in results:
        run.docs += 1
        run.pages += r.page_count
        for stage, secs in r.timings.items():
            run.stages[stage] += secs
    return run, results


def store_and_export(results: list[DocumentResult], run: Run, scratch: Path) -> None:
    """The last two stages, timed into `run`: every result saved, then one workbook."""
    store = Store(f"sqlite:///{scratch / 'bench.db'}")
    try:
        start = time.perf_counter()
        for r in results:
            store.save(r)
        run.stages["store"] += time.perf_counter() - start
        start = time.perf_counter()
        export_xlsx(store.all(), scratch / "bench.xlsx")
        run.stages["export"] += time.perf_counter() - start
        run.seconds += run.stages["store"] + run.stages["export"]
    finally:
        store.close()


def tesseract_reference(paths: list[Path], config: Config, workers: int, scratch: Path) -> Run:
    """The same scanned pages through the bare CLI: images rendered first (not timed)."""
    opts = config.pipeline
    jobs: list[tuple[Path, int]] = []
    for i, path in enumerate(paths):
        doc = load_document(path, opts)
        rasterize(doc, opts, scratch / f"ref-{i}")
        jobs.extend((p.image_path, page_psm(p, opts.ocr_psm)) for p in doc.pages if p.image_path)
    env = tesseract_env()

    def ocr(job: tuple[Path, int]) -> None:
        image, psm = job
        cmd = ["tesseract", str(image), "stdout", "-l", "+".join(opts.ocr_languages), "--psm", str(psm), "tsv"]
        subprocess.run(cmd, capture_output=True, env=env, check=True, timeout=opts.ocr_timeout_s)

    jobs.sort(key=lambda job: -job[0].stat().st_size)  # biggest first, as the pipeline's pool does
    run = Run("bare tesseract (scanned pages)", workers, docs=len(paths), pages=len(jobs))
    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:  # each thread waits on its own tesseract process
        list(pool.map(ocr, jobs))
    run.seconds = time.perf_counter() - start
    return run


def _pipeline_run(paths: list[Path], config: Config, workers: int, label: str) -> Run:
    return run_pipeline(paths, config, workers, label)[0]


def _scanned(result: DocumentResult) -> bool:
    return any(p.get("text_source") == "ocr" for p in result.provenance.get("pages", []))


def fastest(runs: list[Run]) -> Run:
    """The least disturbed of repeated runs: on a shared machine noise only ever adds time."""
    return min(runs, key=lambda run: run.seconds)


def bench(folder: Path, config: Config, workers: int | None = None, repeat: int = 3) -> dict[str, Any]:
    """Every compared run is repeated `repeat` times, interleaved, and its fastest kept."""
    if repeat < 1:
        raise ValueError("repeat must be at least 1")
    paths = documents(folder)
    if not paths:
        raise FileNotFoundError(f"no documents (PDF, PNG, JPEG, TIFF) under {folder}")
    workers = workers or default_workers(config)
    scratch = Path(tempfile.mkdtemp(prefix="ledgerlens-bench-"))
    try:
        full, results = run_pipeline(paths, config, workers, f"pipeline, {workers} worker(s), all documents")
        store_and_export(results, full, scratch)
        scanned_paths = [p for p, r in zip(paths, results, strict=True) if _scanned(r)]
        digital_paths = [p for p, r in zip(paths, results, strict=True) if not _scanned(r) and r.page_count]
        runs = [full]
        out: dict[str, Any] = {"documents": len(paths), "workers": workers, "repeat": repeat}
        passes: dict[str, Callable[[], Run]] = {}  # each compared pass, in the order they interleave
        if scanned_paths:
            n_label = f"pipeline, {workers} worker(s), scanned"
            passes["scanned"] = partial(_pipeline_run, scanned_paths, config, workers, n_label)
            one_label = "pipeline, 1 worker, scanned"
            passes["scanned, 1 worker"] = partial(_pipeline_run, scanned_paths, config, 1, one_label)
            passes["tesseract"] = partial(tesseract_reference, scanned_paths, config, workers, scratch)
        if digital_paths:
            digital_label = f"pipeline, {workers} worker(s), born-digital"
            passes["born-digital"] = partial(_pipeline_run, digital_paths, config, workers, digital_label)
        trials: dict[str, list[Run]] = {name: [] for name in passes}
        for _ in range(repeat):
            for name, run_once in passes.items():
                trials[name].append(run_once())
        best = {name: fastest(t) for name, t in trials.items()}
        runs += best.values()
        if scanned_paths:
            scanned = best["scanned"].pages_per_min
            out["overhead_ratio"] = round(scanned / best["tesseract"].pages_per_min, 3)
            out["scaling_ratio"] = round(scanned / best["scanned, 1 worker"].pages_per_min, 3)
            if digital_paths:
                out["born_digital_speedup"] = round(best["born-digital"].pages_per_min / scanned, 2)
        out["runs"] = [r.as_dict() for r in runs]
        out["peak_rss_mb"] = {
            "main": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "largest_child": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
        }
        return out
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
