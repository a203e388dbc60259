"""`eval --split` reports the tune and check parts apart; `--read-cache` keeps what was read."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from ledgerlens.pipeline.config import Config
from ledgerlens.pipeline.measure.evaluate import evaluate_datasets, load_cases

ROOT = Path(__file__).resolve().parents[1]


def _folder(samples: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "mine"
    folder.mkdir()
    for name in ("invoice_fr.pdf", "receipt_gb_cafe.pdf"):
        shutil.copy(samples / name, folder / name)
        gt = json.loads((samples / name.replace(".pdf", ".gt.json")).read_text())
        (folder / f"{name}.json").write_text(json.dumps({"doc_type": gt["doc_type"], **gt["fields_normalized"]}))
    return folder


def test_tune_and_check_are_reported_apart_and_reads_are_cached(samples: Path, tmp_path: Path) -> None:
    folder = _folder(samples, tmp_path)
    split = tmp_path / "split.json"
    shas = [hashlib.sha256(c.path.read_bytes()).hexdigest() for c in load_cases(folder)]
    split.write_text(json.dumps({"split": {shas[0]: "tune", shas[1]: "check"}}))
    cache = tmp_path / "read-cache"
    report = evaluate_datasets([folder], Config(), out=tmp_path / "r1", workers=1, split=split, read_cache=cache)
    assert report.parts() == ["tune", "check"]
    assert {r["field"] for r in report.table("tune")} >= {"invoice_number", "total_amount"}
    md = (tmp_path / "r1" / "report.md").read_text()
    assert "## tune (1 documents)" in md and "## check (1 documents)" in md
    assert json.loads((tmp_path / "r1" / "report.json").read_text())["parts"]["check"]["overall"]
    cached = sorted(p.name for p in cache.iterdir())
    assert len(cached) == 2 and all(name.split("-")[0] in shas for name in cached)
    again = evaluate_datasets([folder], Config(), workers=1, split=split, read_cache=cache)
    assert again.table() == report.table()  # the same words, read from the cache


def test_the_committed_dev_split_is_a_fixed_rule() -> None:
    body = json.loads((ROOT / "benchmarks" / "dev_split.json").read_text())
    assert body["split"] and set(body["split"].values()) == {"tune", "check"}
    assert all(part == ("tune" if sha[0] in "01234567" else "check") for sha, part in body["split"].items())
    assert body["counts"] == {p: list(body["split"].values()).count(p) for p in ("tune", "check")}
