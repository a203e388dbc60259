"""The `openai` engine end to end with a real model behind the server: the tiny random Qwen2-VL of
the vlm tests, served by the test server like vLLM serves a model (schema-constrained, with
log-probabilities), and `ledgerlens process --engine openai` through the whole pipeline."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("llguidance")

from ledgerlens.pipeline.check.answers import PIPELINE_CHECKS
from ledgerlens.pipeline.config import Config, EngineConfig, PipelineOptions
from ledgerlens.pipeline.doctypes.schemas import load_schemas
from ledgerlens.pipeline.engines import create_engine
from openai_server import FakeModelServer, TinyModelBackend

pytestmark = pytest.mark.vlm

SMALL = {"max_new_tokens": 128, "max_pixels": 448 * 448, "max_reasks": 0, "timeout_s": 60.0}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from vlm_models import build_tiny_model

    folder = build_tiny_model("qwen2_vl", tmp_path_factory.mktemp("tiny-served") / "qwen2_vl")
    with FakeModelServer(TinyModelBackend(folder), models=("tiny-qwen2-vl",)) as server:
        yield server


@pytest.fixture(scope="module")
def invoice_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from fixtures.generate import generate

    folder = tmp_path_factory.mktemp("tiny-served-docs")
    generate(folder, seed=0, scans=False, only=["invoice_en_gb"])
    return folder / "invoice_en_gb.pdf"


def test_the_served_tiny_model_answers_schema_valid_json_with_logprob_confidence(served, invoice_pdf, tmp_path):
    from ledgerlens.pipeline.read.load import load_document
    from ledgerlens.pipeline.read.ocr import read_text
    from ledgerlens.pipeline.read.rasterize import rasterize

    opts = PipelineOptions()
    pages = read_text(rasterize(load_document(invoice_pdf, opts), opts, tmp_path, all_pages=True), opts).pages
    schema = load_schemas()["invoice"]
    engine = create_engine(
        Config(
            engine=EngineConfig(name="openai", model="tiny-qwen2-vl", options={"base_url": served.base_url, **SMALL})
        ),
        PIPELINE_CHECKS,
    )
    out = engine.extract(pages, "invoice", schema)
    assert schema.errors(out.data) == []  # the server held the model to the schema it was sent
    (attempt,) = out.model_info["document"]["attempts"]
    assert attempt["new_tokens"] > 0 and attempt["prompt_tokens"] > 100  # image tokens + the prompt
    assert out.model_info["document"]["confidence_from"] == "logprobs"
    assert all(0.0 <= ev.confidence <= 1.0 for ev in out.field_evidence.values())


@pytest.mark.prefect
def test_process_with_the_openai_engine_and_a_served_model_stores_the_result(served, invoice_pdf, tmp_path) -> None:
    from ledgerlens.pipeline.books.store import Store

    from ledgerlens.cli import main

    ws = tmp_path / "books"
    assert main(["init", str(ws)]) == 0
    toml = ws / "ledgerlens.toml"
    options = "\n".join(f"{k} = {v!r}" if isinstance(v, str) else f"{k} = {v}" for k, v in SMALL.items())
    toml.write_text(
        toml.read_text().replace('[engine]\nname = "ocr"', f'[engine]\nname = "ocr"\n[engine.options]\n{options}')
    )
    shutil.copy(invoice_pdf, ws / "intake" / invoice_pdf.name)
    before = len(served.posts())
    args = ["process", str(ws / "intake"), "--engine", "openai", "--model", "tiny-qwen2-vl"]
    assert main([*args, "--base-url", served.base_url, "--preset", "vllm"]) == 0
    assert len(served.posts()) == before + 1  # one page, one request, no re-ask
    (stored,) = Store.for_workspace(ws).all()
    r = stored.result
    assert r.doc_type == "invoice" and str(r.status) in ("needs_review", "failed")  # random weights: never ok
    engine = r.provenance["engine"]
    assert engine["engine"] == "openai" and engine["model"] == "tiny-qwen2-vl" and engine["preset"] == "vllm"
    assert engine["document"]["images"][0]["media_type"] == "image/jpeg"
    assert any((ws / "done").iterdir()) or any((ws / "failed").iterdir())
