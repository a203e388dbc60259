"""`make bench-scale` (benchmarks/bench_scale.py): its sums, its verdicts, and a quick run end to end."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_scale", ROOT / "benchmarks" / "bench_scale.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_scale"] = module
    spec.loader.exec_module(module)
    return module


def test_the_p95_is_a_measured_latency_not_an_average(bench: ModuleType) -> None:
    values = sorted([1.0] * 19 + [9.0])
    assert bench.percentile(values, 0.95) == 1.0  # 19 of 20 (95 %) at or below 1 s
    assert bench.percentile(sorted([1.0] * 18 + [9.0, 9.0]), 0.95) == 9.0
    assert bench.percentile([3.0], 0.95) == 3.0


def test_worker_start_up_sums_only_the_top_level_imports(bench: ModuleType) -> None:
    stderr = "\n".join(
        [
            "import time: self [us] | cumulative | imported package",
            "import time:       100 |        100 | gc",
            "import time:      2000 |       2000 |   numpy.core",
            "import time:      3000 |     500000 | numpy",
        ]
    )
    assert bench.importtime_total(stderr) == pytest.approx(0.5001)


def test_each_target_is_judged_from_the_fastest_runs(bench: ModuleType) -> None:
    evals = {1: {"seconds": 60.0}, 2: {"seconds": 31.0}}
    processes = {1: {"seconds": 63.0, "documents": 100}, 2: {"seconds": 40.0, "documents": 100}}
    report = {
        "compare": bench.compare(evals, processes),
        "dask_over_processes": 1.05,
        "born_digital": {"docs_per_min": 900.0},
        "worker_startup": {"cpu_s": 0.8},
        "watch": {"latency_p95_s": 3.1, "settled": 30, "documents": 30},
    }
    assert report["compare"]["1_workers"] == {"process_over_eval": 1.05, "orchestration_s_per_doc": 0.03}
    assert report["compare"]["process_speedup_2_over_1"] == 1.57
    met = {target: ok for target, _, ok in bench.verdicts(report)}
    assert met == {
        "process within 10% of eval, 1 worker(s)": True,
        "process within 10% of eval, 2 worker(s)": False,  # 40 / 31 = 1.29
        "whole flow, 2 workers >= 1.8x one": False,
        "Dask within 10% of worker processes": True,
        "born-digital >= 1,000 docs/min": False,
        "worker start-up <= 1 s CPU": True,
        "watch p95 drop -> done/ < 5 s": True,
    }


def test_documents_are_distinct_and_drawn_from_several_seeds(bench: ModuleType, tmp_path: Path) -> None:
    docs = bench.documents(tmp_path, 3, scans=False, pattern="invoice_en_*.pdf")
    assert [(seed, path.name) for seed, path in docs] == [
        (1, "invoice_en_gb.pdf"),
        (2, "invoice_en_gb.pdf"),
        (1, "invoice_en_us.pdf"),
    ]
    assert len({path.read_bytes() for _, path in docs}) == 3


@pytest.mark.prefect
@pytest.mark.slow
def test_a_quick_run_measures_eval_and_process_side_by_side(bench: ModuleType, tmp_path: Path) -> None:
    out = tmp_path / "bench-scale.json"
    assert bench.main(["--quick", "--docs", "2", "--born-digital", "2", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    runs = {(r["run"], r["workers"]) for r in report["runs"]}
    assert runs == {("eval", 1), ("eval", 2), ("process", 1), ("process", 2)}
    assert report["documents"] == 2 and report["born_digital"]["documents"] == 2
    assert not report["worker_startup"]["imports_prefect"]  # a worker process imports no Prefect
    assert {t["target"] for t in report["targets"]} >= {"worker start-up <= 1 s CPU", "born-digital >= 1,000 docs/min"}
