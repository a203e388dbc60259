"""`eval` on the generated samples, in CI: the numbers a finance team checks first.

Done means: invoice number, date and total exactly right on every clean born-digital sample and
on at least 90% of the scanned copies; and the harness writes what it promises.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ledgerlens.pipeline.config import Config
from ledgerlens.pipeline.measure.evaluate import evaluate_datasets, load_cases
from ledgerlens.pipeline.measure.scoring import same_value

KEY_FIELDS = ("invoice_number", "date", "total_amount")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def evaluated(samples: Path, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("eval-report")
    report = evaluate_datasets([samples], Config(), out=out)
    return report, out


def _outcomes(samples: Path, out: Path) -> list[tuple[str, bool, str, object, object]]:
    predictions = {p["document"]: p for p in map(json.loads, (out / "predictions.jsonl").read_text().splitlines())}
    rows = []
    for case in load_cases(samples):
        if case.doc_type not in ("invoice", "receipt"):
            continue
        got = predictions[case.document]["fields"]
        scanned = case.path.suffix.lower() != ".pdf"
        rows += [(case.document, scanned, f, case.fields[f], got.get(f)) for f in KEY_FIELDS if f in case.fields]
    return rows


def test_born_digital_samples_are_exact(evaluated, samples: Path) -> None:
    _, out = evaluated
    clean = [r for r in _outcomes(samples, out) if not r[1]]
    assert len(clean) >= 25
    assert [r for r in clean if not same_value(r[2], r[3], r[4])] == []


def test_scanned_samples_are_at_least_90_percent_exact(evaluated, samples: Path) -> None:
    _, out = evaluated
    scans = [r for r in _outcomes(samples, out) if r[1]]
    assert len(scans) >= 20
    wrong = [r for r in scans if not same_value(r[2], r[3], r[4])]
    assert len(wrong) <= 0.1 * len(scans), wrong


def test_every_sample_is_classified_as_labelled(evaluated) -> None:
    report, _ = evaluated
    rows = {r["field"]: r for r in report.table()}
    assert rows["doc_type"]["hits"] == rows["doc_type"]["total"] >= 25


def test_report_files(evaluated, samples: Path) -> None:
    report, out = evaluated
    summary = json.loads((out / "report.json").read_text())
    assert summary["documents"] == report.documents
    assert {"micro", "macro"} <= set(summary["overall"])
    assert summary["slowest"] and summary["fields"]
    assert (out / "fields.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    misses = (out / "misses.csv").read_text().splitlines()
    assert misses[0] == "dataset,document,field,expected,got,rows"
    assert f"| {samples.name} | total_amount |" in (out / "report.md").read_text()
