"""Scoring rules on hand-made cases, and `ledgerlens eval` end to end on a small labelled folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from ledgerlens.pipeline.config import Config
from ledgerlens.pipeline.measure.evaluate import evaluate_datasets, load_cases, our_doc_type
from ledgerlens.pipeline.measure.scoring import same_value, score_document, score_field


def test_amounts_compare_as_numbers() -> None:
    assert same_value("total_amount", "60.30", "60.3")
    assert same_value("total_amount", "RM60.30", "60.30")
    assert not same_value("total_amount", "60.30", "60.31")
    assert not same_value("total_amount", "60.30", None)


def test_dates_compare_after_iso_normalisation() -> None:
    assert same_value("date", "19/10/2018", "2018-10-19")
    assert same_value("date", "2018-10-19", "2018-10-19")
    assert not same_value("date", "2018-10-19", "2018-10-18")


def test_identifiers_ignore_spacing_and_case() -> None:
    assert same_value("iban", "DE88 2008 0000 0970 3757 00", "DE88200800000970375700")
    assert same_value("vendor_vat_id", "FR 05 987 654 321", "FR05987654321")
    assert same_value("invoice_number", "#BLR_WFLD2015", "BLR_WFLD2015")
    assert not same_value("invoice_number", "INV-1", "INV-11")


def test_names_ignore_case_and_punctuation_but_not_words() -> None:
    assert same_value("vendor_address", "27, JALAN DEDAP 13, TAMAN JOHOR JAYA.", "27 Jalan Dedap 13 Taman Johor Jaya")
    assert not same_value("vendor_name", "ACME GmbH", "ACME")
    scored = score_field("vendor_name", "ACME GmbH", "ACME GmbI")
    assert scored.hits == 0 and 0.8 < scored.similarity < 1.0


def test_unlabelled_fields_are_not_counted() -> None:
    scores = score_document({"total_amount": "10.00"}, {"total_amount": "10.00", "date": "2025-01-01"})
    assert [(s.field, s.hits, s.total) for s in scores] == [("total_amount", 1, 1)]


def test_list_fields_are_scored_per_row() -> None:
    expected = [{"date": "2023-07-02", "amount": "-4.20"}, {"date": "2023-07-03", "amount": "-1.38"},
                {"date": "2023-07-03", "amount": "-1.38"}]  # fmt: skip
    got = [{"date": "2023-07-03", "amount": "-1.38", "description": "x"}, {"date": "2023-07-02", "amount": "-4.2"}]
    s = score_field("transactions", expected, got)
    assert (s.hits, s.total) == (2, 3)  # a predicted row matches one labelled row only


def test_benchmark_types_map_to_ours() -> None:
    assert our_doc_type("credit_note") == "invoice"
    assert our_doc_type("partial_construction_invoice") == "invoice"
    assert our_doc_type("receipt") == "receipt"


def test_eval_on_a_plain_folder_of_labelled_pairs(samples: Path, tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    for name in ("invoice_fr.pdf", "receipt_gb_cafe.pdf"):
        shutil.copy(samples / name, folder / name)
        gt = json.loads((samples / name.replace(".pdf", ".gt.json")).read_text())
        # The layout a user has: the reviewed JSON beside the document.
        (folder / f"{name}.json").write_text(json.dumps({"doc_type": gt["doc_type"], **gt["fields_normalized"]}))
    assert len(load_cases(folder)) == 2
    report = evaluate_datasets([folder], Config(), out=tmp_path / "report", workers=1)
    rows = {r["field"]: r for r in report.table()}
    assert rows["total_amount"]["hits"] == 2 and rows["doc_type"]["hits"] == 2
    lines = (tmp_path / "report" / "predictions.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    assert set(first) == {"document", "doc_type", "status", "fields"}
    assert first["document"] == "invoice_fr.pdf" and first["fields"]["invoice_number"]
    for name in ("report.json", "report.md", "misses.csv"):
        assert (tmp_path / "report" / name).is_file()


def test_eval_reads_the_bench_layout(samples: Path) -> None:
    cases = load_cases(samples)
    assert {c.doc_type for c in cases} >= {"invoice", "receipt", "bank_statement"}
    assert all(c.path.exists() for c in cases)
