"""One document through every stage, directly (no Prefect): results, failures, provenance."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fixtures.bad_inputs import make_bad_inputs
from ledgerlens.pipeline.chain import process_file
from ledgerlens.pipeline.check.answers import PIPELINE_CHECKS
from ledgerlens.pipeline.config import Config, EngineConfig
from ledgerlens.pipeline.engines import create_engine
from ledgerlens.pipeline.errors import ConfigError
from ledgerlens.pipeline.types import Severity, Status


def _gt(samples: Path, name: str) -> dict:
    return json.loads((samples / f"{Path(name).stem}.gt.json").read_text(encoding="utf-8"))


def test_born_digital_invoice_is_read_from_its_text_layer(samples: Path, context) -> None:
    result = process_file(samples / "invoice_de.pdf", context)
    gt = _gt(samples, "invoice_de.pdf")["fields_normalized"]
    assert result.doc_type == "invoice"
    for name in ("invoice_number", "date", "due_date", "total_amount", "net_amount", "tax_amount", "iban", "currency"):
        assert result.data[name] == gt[name], name
    assert result.status in (Status.OK, Status.NEEDS_REVIEW)
    assert all(p["text_source"] == "text_layer" for p in result.provenance["pages"])
    assert result.timings["ocr"] < 0.5  # nothing to OCR on a born-digital page
    total = result.provenance["fields"]["total_amount"]
    assert total["page"] == 1 and total["bbox"] and total["source"].startswith("label:")
    assert 0 < result.confidence["total_amount"] <= 1


def test_scanned_copy_gives_the_same_key_fields(samples: Path, context) -> None:
    result = process_file(samples / "invoice_de.scan.png", context)
    gt = _gt(samples, "invoice_de.scan.png")["fields_normalized"]
    assert result.doc_type == "invoice"
    assert [p["text_source"] for p in result.provenance["pages"]] == ["ocr"]
    for name in ("invoice_number", "date", "total_amount"):
        assert result.data[name] == gt[name], name


def test_statement_transactions_add_up(samples: Path, context) -> None:
    result = process_file(samples / "statement_de_2pages.pdf", context)
    assert result.doc_type == "bank_statement"
    gt = _gt(samples, "statement_de_2pages.pdf")["fields_normalized"]
    got = {(t["date"], t["amount"]) for t in result.data["transactions"]}
    expected = {(t["date"], t["amount"]) for t in gt["transactions"]}
    assert len(got & expected) >= 0.9 * len(expected)


def test_a_letter_goes_to_review_as_unknown(samples: Path, context) -> None:
    result = process_file(samples / "letter_en_unknown.pdf", context)
    assert result.doc_type == "unknown"
    assert result.status is Status.NEEDS_REVIEW
    assert [i.code for i in result.issues] == ["unknown_doc_type"]
    assert result.data == {}


@pytest.fixture(scope="module")
def bad(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    folder = tmp_path_factory.mktemp("bad")
    return folder, make_bad_inputs(folder)


def test_every_bad_input_fails_with_a_reason_and_never_raises(bad, context) -> None:
    folder, expected = bad
    for name, code in expected.items():
        result = process_file(folder / name, context)
        if name == "really_png.jpg":  # loads fine (content wins over the extension) but is a photo
            code = "no_text"
        if not code:
            assert result.status is not Status.FAILED, name
            continue
        assert result.status is Status.FAILED, name
        fatal = [i for i in result.issues if i.severity is Severity.FATAL]
        assert [i.code for i in fatal] == [code], name
        assert len(fatal[0].message) > 15, name
        assert result.provenance["error"]["hint"], name
        assert len(result.sha256) == 64


def test_unknown_engine_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="known engines: ocr"):
        create_engine(Config(engine=EngineConfig(name="gpt-17")), PIPELINE_CHECKS)


def test_ocr_engine_refuses_options_it_does_not_have() -> None:
    with pytest.raises(ConfigError, match="takes no"):
        create_engine(Config(engine=EngineConfig(name="ocr", options={"temperature": 0})), PIPELINE_CHECKS)
