"""The `ocr` engine on the generated samples: the numbers a finance team checks first.

Done means: invoice number, date and total exactly right on every clean born-digital sample and
on at least 90% of the scanned copies.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from ledgerlens.pipeline.evaluate import load_cases
from ledgerlens.pipeline.run import process_file
from ledgerlens.pipeline.scoring import same_value

KEY_FIELDS = ("invoice_number", "date", "total_amount")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def outcomes(samples: Path, context) -> list[tuple[str, bool, str, str, object, object]]:
    rows = []
    for case in load_cases(samples):
        if case.doc_type not in ("invoice", "receipt"):
            continue
        result = process_file(case.path, context)
        scanned = case.path.suffix.lower() != ".pdf"
        for name in KEY_FIELDS:
            if name in case.fields:
                got = result.data.get(name)
                rows.append((case.document, scanned, name, result.doc_type, case.fields[name], got))
    return rows


def test_born_digital_samples_are_exact(outcomes) -> None:
    clean = [r for r in outcomes if not r[1]]
    assert len(clean) >= 25
    wrong = [r for r in clean if not same_value(r[2], r[4], r[5])]
    assert wrong == []


def test_scanned_samples_are_at_least_90_percent_exact(outcomes) -> None:
    scans = [r for r in outcomes if r[1]]
    assert len(scans) >= 20
    right = [r for r in scans if same_value(r[2], r[4], r[5])]
    assert len(right) >= 0.9 * len(scans), [r for r in scans if r not in right]
