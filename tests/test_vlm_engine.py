"""The transformers engine on tiny random Qwen2-VL / Qwen2.5-VL models, offline, on CPU.

Random weights write garbage; what is tested is what a user relies on whatever the weights: the
model loads from a folder without a hub, output is schema-valid JSON by construction, adapters
load, switch and show in provenance, int8 applies and says so, re-asks and pages are recorded.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("llguidance")

from ledgerlens.pipeline.check.answers import PIPELINE_CHECKS
from ledgerlens.pipeline.config import Config, EngineConfig, PipelineOptions
from ledgerlens.pipeline.doctypes.schemas import load_schemas
from ledgerlens.pipeline.engines import create_engine
from ledgerlens.pipeline.engines.model.constrain import model_schema
from ledgerlens.pipeline.engines.model.decode import parse_json
from ledgerlens.pipeline.engines.model.prompts import load_prompt, start
from ledgerlens.pipeline.engines.transformers.adapters import adapter_hash
from ledgerlens.pipeline.errors import ConfigError, DocumentError
from ledgerlens.pipeline.types import Severity

pytestmark = pytest.mark.vlm

SMALL = {"max_pixels": 448 * 448, "max_new_tokens": 160, "max_reasks": 0, "threads": 1}
VENDOR = "Northwind Analytics Ltd"  # printed on invoice_en_gb


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from vlm_models import build_tiny_model

    root = tmp_path_factory.mktemp("tiny-vlm")
    return {family: build_tiny_model(family, root / family) for family in ("qwen2_vl", "qwen2_5_vl")}


@pytest.fixture(scope="session")
def invoices(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Real document pages (rasterized images + text-layer words) of two generated invoices."""
    from fixtures.generate import generate
    from ledgerlens.pipeline.read.load import load_document
    from ledgerlens.pipeline.read.ocr import read_text
    from ledgerlens.pipeline.read.rasterize import rasterize

    folder = tmp_path_factory.mktemp("vlm-invoices")
    generate(folder, seed=0, scans=False, only=["invoice_en_gb", "invoice_de_2pages"])
    opts = PipelineOptions()
    out = {}
    for name in ("invoice_en_gb", "invoice_de_2pages"):
        doc = load_document(folder / f"{name}.pdf", opts)
        doc = rasterize(doc, opts, folder / f"{name}-pages", all_pages=True)
        out[name] = read_text(doc, opts).pages
    out["folder"] = folder
    return out


@pytest.fixture(scope="session")
def adapters(tiny_models: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two LoRA adapters for the tiny Qwen2-VL, randomly initialised so that they change its output."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForImageTextToText

    root = tmp_path_factory.mktemp("adapters")
    folders = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        base = AutoModelForImageTextToText.from_pretrained(tiny_models["qwen2_vl"])
        config = LoraConfig(
            r=4, lora_alpha=16, target_modules=r".*language_model.*\.(q_proj|v_proj)", init_lora_weights=False
        )
        folder = root / f"adapter-{seed}"
        with warnings.catch_warnings():  # peft 0.21 reads a transformers alias deprecated for v6
            warnings.filterwarnings("ignore", "`is_gradient_checkpointing` is deprecated", FutureWarning)
            get_peft_model(base, config).save_pretrained(folder)
        folders.append(folder)
    return folders


def make_engine(model: Path | str, checks: Any = PIPELINE_CHECKS, **spec: Any) -> Any:
    options = {**SMALL, **spec.pop("options", {})}
    return create_engine(
        Config(engine=EngineConfig(name="transformers", model=str(model), options=options, **spec)), checks
    )


class ScriptedChecks:
    """The pipeline's checks, except that `problems` answers from a script: the engine re-asks."""

    def __init__(self, answers: list[list[str]]) -> None:
        self.answers = iter(answers)

    def problems(self, *args: Any) -> list[str]:
        return next(self.answers)

    def locate(self, *args: Any) -> Any:
        return PIPELINE_CHECKS.locate(*args)


@pytest.fixture(scope="session")
def invoice_schema():
    return load_schemas()["invoice"]


# ---------------------------------------------------------------- loading


@pytest.mark.parametrize("family", ["qwen2_vl", "qwen2_5_vl"])
def test_a_model_folder_loads_offline_with_an_image_processor(tiny_models, family) -> None:
    from transformers.processing_utils import ProcessorMixin

    assert os.environ["HF_HUB_OFFLINE"] == "1"
    engine = make_engine(tiny_models[family])
    processor = engine.loaded.processor
    assert isinstance(processor, ProcessorMixin) and processor.image_processor is not None
    assert type(processor).__name__.endswith("ImageOnlyProcessor")  # torchvision is absent beside torch 2.13
    info = engine.describe()
    assert info["family"] == family and info["device"] == "cpu" and info["dtype"] == "float32"
    assert info["quantization"]["method"] == "none"


def test_a_stock_qwen_checkpoint_loads_without_torchvision(tiny_models, tmp_path) -> None:
    """Downloaded Qwen checkpoints name the stock processor class, which needs torchvision."""
    from ledgerlens.pipeline.engines.transformers.loading import load_processor
    from ledgerlens.pipeline.engines.transformers.options import TransformersOptions
    from ledgerlens.pipeline.engines.transformers.registry import resolve_model

    folder = tmp_path / "stock"
    shutil.copytree(tiny_models["qwen2_vl"], folder)
    cfg_path = folder / "processor_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["processor_class"] = "Qwen2VLProcessor"
    cfg_path.write_text(json.dumps(cfg))
    processor = load_processor(resolve_model(str(folder)), TransformersOptions(), trust=False)
    assert processor.image_processor is not None and processor.tokenizer is not None


def test_a_folder_whose_processor_degrades_to_a_tokenizer_is_refused(tiny_models, tmp_path) -> None:
    from ledgerlens.pipeline.engines.transformers.loading import load_processor
    from ledgerlens.pipeline.engines.transformers.options import TransformersOptions
    from ledgerlens.pipeline.engines.transformers.registry import ResolvedModel

    folder = tmp_path / "odd"
    shutil.copytree(tiny_models["qwen2_vl"], folder)
    (folder / "processor_config.json").unlink()
    (folder / "preprocessor_config.json").unlink(missing_ok=True)
    odd = ResolvedModel(str(folder), folder, "custom_vl", None)
    with pytest.raises(ConfigError, match=r"not an image processor|cannot load the processor"):
        load_processor(odd, TransformersOptions(), trust=False)


def test_a_registry_model_missing_from_the_cache_is_a_config_error_with_the_pull_command(tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(ConfigError, match=r"ledgerlens models pull qwen2-vl-2b"):
        create_engine(Config(engine=EngineConfig(name="transformers", model="qwen2-vl-2b")), PIPELINE_CHECKS)


def test_a_registry_model_in_the_hf_cache_loads_offline_by_its_id(tiny_models, tmp_path, monkeypatch) -> None:
    """The layout `models pull` (huggingface_hub) leaves: models--org--name/{refs/main, snapshots/<commit>/}."""
    from huggingface_hub import constants

    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "models--Qwen--Qwen2-VL-2B-Instruct"
    shutil.copytree(tiny_models["qwen2_vl"], repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    engine = make_engine("qwen2-vl-2b")
    info = engine.describe()
    assert info["hub_id"] == "Qwen/Qwen2-VL-2B-Instruct" and info["model_path"].endswith(commit)
    assert info["prompt_version"] == "extract-v1"  # the registry's default for the model


def test_bitsandbytes_quantization_on_cpu_is_refused_with_the_cpu_alternative(tiny_models) -> None:
    with pytest.raises(ConfigError, match=r"needs a CUDA device.*quantization = 'int8'"):
        make_engine(tiny_models["qwen2_vl"], options={"quantization": "4bit", "device": "cpu"})


# ---------------------------------------------------------------- constrained decoding


def _inputs(engine: Any, schema: Any, pages: list) -> Any:
    from ledgerlens.pipeline.engines.model.images import page_image

    conv = start(load_prompt("extract-v1"), "qwen2_vl", schema, len(pages))
    images = [page_image(p, engine.factor, engine.options.min_pixels, engine.options.max_pixels) for p in pages]
    return engine.generator.prepare(conv, images)


def test_fifty_constrained_generations_on_an_invoice_page_all_parse_and_validate(
    tiny_models, invoices, invoice_schema
) -> None:
    from ledgerlens.pipeline.check.parse import parse_output

    engine = make_engine(tiny_models["qwen2_vl"], options={"temperature": 1.0})
    inputs = _inputs(engine, invoice_schema, invoices["invoice_en_gb"][:1])
    grammar = model_schema(invoice_schema.bundled())
    valid, non_empty = 0, 0
    for seed in range(50):
        engine.generator.seed(seed)
        gen = engine.generator.generate(inputs, grammar)
        data, error = parse_json(gen.text)
        assert error is None, (seed, gen.text)
        assert gen.complete and gen.new_tokens <= engine.options.max_new_tokens
        assert invoice_schema.errors(data) == [], (seed, gen.text)
        _, issues = parse_output(data, invoice_schema)
        assert not [i for i in issues if i.code in ("unreadable_value", "unknown_field")], (seed, gen.text)
        valid += 1
        non_empty += bool(data)
    assert valid == 50
    assert non_empty >= 10  # sampling explores the schema, not just "{}"


def test_without_the_grammar_a_random_model_writes_no_valid_json(tiny_models, invoices, invoice_schema) -> None:
    engine = make_engine(tiny_models["qwen2_vl"], options={"temperature": 1.0})
    inputs = _inputs(engine, invoice_schema, invoices["invoice_en_gb"][:1])
    outcomes = []
    for seed in range(5):
        engine.generator.seed(seed)
        outcomes.append(parse_json(engine.generator.generate(inputs, None).text)[1] is None)
    assert not any(outcomes)


def test_a_tight_token_budget_still_ends_in_complete_valid_json(tiny_models, invoices, invoice_schema) -> None:
    engine = make_engine(tiny_models["qwen2_5_vl"], options={"temperature": 1.0, "max_new_tokens": 40})
    inputs = _inputs(engine, invoice_schema, invoices["invoice_en_gb"][:1])
    grammar = model_schema(invoice_schema.bundled())
    forced = 0
    for seed in range(15):
        engine.generator.seed(seed)
        gen = engine.generator.generate(inputs, grammar)
        data, error = parse_json(gen.text)
        assert error is None and gen.complete and invoice_schema.errors(data) == [], gen.text
        assert gen.new_tokens <= 40
        forced += gen.forced_closing
    assert forced > 0  # the guard did close some answers


# ---------------------------------------------------------------- the engine contract


def test_extract_returns_data_with_confidence_grounding_and_token_counts(tiny_models, invoices, invoice_schema):
    engine = make_engine(tiny_models["qwen2_vl"])
    out = engine.extract(invoices["invoice_en_gb"], "invoice", invoice_schema)
    assert isinstance(out.data, dict) and invoice_schema.errors(out.data) == []
    doc = out.model_info["document"]
    assert doc["attempts"][0]["new_tokens"] > 0 and doc["prompt_tokens"] > doc["visual_tokens"][0]
    assert out.token_logprobs and all(lp <= 0 for lp in out.token_logprobs)
    for key, ev in out.field_evidence.items():
        assert 0.0 <= ev.confidence <= 1.0 and key in out.data
    # random values are printed nowhere: each amount, date or id the model wrote is flagged
    flagged = {i.field for i in out.issues if i.code == "not_on_page"}
    assert all(i.severity is Severity.WARNING for i in out.issues if i.code == "not_on_page")
    for key in ("total_amount", "date", "iban", "invoice_number"):
        if key in out.data:
            assert key in flagged


def test_validation_errors_are_put_back_to_the_model_and_attempts_recorded(
    tiny_models, invoices, invoice_schema
) -> None:
    checks = ScriptedChecks([["net 100.00 + tax 19.00 = 119.00, but the total reads 120.00"], []])
    engine = make_engine(tiny_models["qwen2_vl"], checks, options={"max_reasks": 2})
    out = engine.extract(invoices["invoice_en_gb"], "invoice", invoice_schema)
    attempts = out.model_info["document"]["attempts"]
    assert len(attempts) == 2
    assert attempts[0]["problems"] and not attempts[1]["problems"]
    # the second prompt holds the first answer and the problem list
    assert attempts[1]["prompt_tokens"] > attempts[0]["prompt_tokens"] + 20
    assert out.model_info["document"]["new_tokens"] == sum(a["new_tokens"] for a in attempts)


def test_pages_share_one_conversation_when_they_fit_else_one_each(tiny_models, invoices, invoice_schema) -> None:
    pages = invoices["invoice_de_2pages"]
    assert len(pages) == 2
    together = make_engine(tiny_models["qwen2_vl"]).extract(pages, "invoice", invoice_schema)
    assert together.model_info["document"]["conversations"] == [[1, 2]]
    apart = make_engine(tiny_models["qwen2_vl"], options={"max_context_tokens": 1200}).extract(
        pages, "invoice", invoice_schema
    )
    assert apart.model_info["document"]["conversations"] == [[1], [2]]
    assert len(apart.model_info["document"]["attempts"]) == 2
    assert invoice_schema.errors(apart.data) == []


def test_out_of_memory_while_generating_is_a_transient_document_error_with_advice(
    tiny_models, invoices, invoice_schema, monkeypatch
) -> None:
    import torch

    engine = make_engine(tiny_models["qwen2_vl"])

    def oom(*args: Any, **kwargs: Any) -> Any:
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(engine.loaded.model, "generate", oom)
    with pytest.raises(DocumentError) as e:
        engine.extract(invoices["invoice_en_gb"], "invoice", invoice_schema)
    assert e.value.code == "out_of_memory" and e.value.transient
    assert "ledgerlens doctor" in e.value.hint


def test_nuextract_prompt_version_reads_with_its_template(tiny_models, invoices, invoice_schema) -> None:
    engine = make_engine(tiny_models["qwen2_5_vl"], prompt_version="nuextract-2")
    out = engine.extract(invoices["invoice_en_gb"], "invoice", invoice_schema)
    assert out.model_info["prompt_version"] == "nuextract-2"
    assert invoice_schema.errors(out.data) == []


def test_the_model_is_loaded_once_per_process(tiny_models) -> None:
    first = make_engine(tiny_models["qwen2_vl"])
    second = make_engine(tiny_models["qwen2_vl"], options={"max_reasks": 1})  # decoding options differ only
    assert first.loaded is second.loaded


# ---------------------------------------------------------------- quantization


def test_int8_on_cpu_loads_generates_and_reports_what_was_applied(tiny_models, invoices, invoice_schema) -> None:
    fp32 = make_engine(tiny_models["qwen2_vl"]).describe()["quantization"]
    engine = make_engine(tiny_models["qwen2_vl"], options={"quantization": "int8"})
    q = engine.describe()["quantization"]
    assert q["method"] == "torch-dynamic-int8"
    assert q["quantizer"] == "torch.ao.quantization.quantize_dynamic"
    assert q["layer_classes"].get("torch.ao.nn.quantized.dynamic.Linear", 0) > 0
    assert "torch.nn.Linear" not in q["layer_classes"]
    assert q["serialized_mb"] < fp32["serialized_mb"]
    out = engine.extract(invoices["invoice_en_gb"], "invoice", invoice_schema)
    assert invoice_schema.errors(out.data) == []
    assert out.model_info["quantization"]["method"] == "torch-dynamic-int8"


# ---------------------------------------------------------------- LoRA adapters


def _last_logits(engine: Any, schema: Any, pages: list) -> Any:
    import torch

    inputs = _inputs(engine, schema, pages)
    with torch.inference_mode():
        return engine.adapters.model(**inputs).logits[0, -1].clone()


def test_lora_adapters_load_change_the_output_switch_in_place_and_show_in_provenance(
    tiny_models, adapters, invoices, invoice_schema
) -> None:
    import torch

    a, b = adapters
    engine = make_engine(tiny_models["qwen2_vl"], adapter=str(a), adapters={f"vendor:{VENDOR}": str(b)})
    page = invoices["invoice_en_gb"][:1]
    model_before = engine.adapters.model

    engine.adapters.activate(str(a))
    with_a = _last_logits(engine, invoice_schema, page)
    engine.adapters.activate(str(b))
    with_b = _last_logits(engine, invoice_schema, page)
    with engine.adapters.model.disable_adapter():
        base = _last_logits(engine, invoice_schema, page)
    assert not torch.allclose(with_a, base) and not torch.allclose(with_b, base)
    assert not torch.allclose(with_a, with_b)

    # per document: the vendor printed on the page picks adapter b; another text falls back to a
    out = engine.extract(page, "invoice", invoice_schema)
    chosen = out.model_info["document"]["adapter"]
    assert chosen["path"] == str(b.resolve()) and chosen["sha256"] == adapter_hash(b)
    assert engine.rules.choose("invoice", "Some Other Vendor Ltd") == str(a)
    assert engine.adapters.model is model_before  # switched in place, never reloaded
    described = {x["sha256"] for x in engine.describe()["adapters"]}
    assert described == {adapter_hash(a), adapter_hash(b)}


def test_an_adapter_folder_that_is_not_one_is_a_config_error(tiny_models, tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"adapter_config\.json"):
        make_engine(tiny_models["qwen2_vl"], adapter=str(tmp_path))


# ---------------------------------------------------------------- the whole pipeline


@pytest.mark.prefect
def test_process_with_the_transformers_engine_stores_and_exports(tiny_models, adapters, invoices, tmp_path) -> None:
    from openpyxl import load_workbook

    from ledgerlens.cli import main

    ws = tmp_path / "books"
    assert main(["init", str(ws)]) == 0
    toml = ws / "ledgerlens.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8").replace(
            '[engine]\nname = "ocr"',
            '[engine]\nname = "ocr"\n[engine.options]\nmax_pixels = 200704\nmax_new_tokens = 128\nmax_reasks = 1',
        ),
        encoding="utf-8",
    )
    shutil.copy(invoices["folder"] / "invoice_en_gb.pdf", ws / "intake" / "invoice_en_gb.pdf")
    args = ["process", str(ws / "intake"), "--engine", "transformers", "--model", str(tiny_models["qwen2_vl"])]
    assert main([*args, "--quant", "int8", "--adapter", str(adapters[0])]) == 0
    assert main(["export", "--to", "xlsx", "--workspace", str(ws)]) == 0

    from ledgerlens.pipeline.books.store import Store

    store = Store.for_workspace(ws)
    try:
        (stored,) = store.all()
    finally:
        store.close()
    r = stored.result
    assert r.doc_type == "invoice"  # classified before the engine ran
    assert str(r.status) in ("needs_review", "failed")  # random weights: never "ok"
    engine = r.provenance["engine"]
    assert engine["engine"] == "transformers" and engine["quantization"]["method"] == "torch-dynamic-int8"
    assert engine["document"]["adapter"]["sha256"] == adapter_hash(adapters[0])
    assert (
        (ws / "done" / "invoice_en_gb.pdf").exists() or any((ws / "done").iterdir()) or any((ws / "failed").iterdir())
    )
    workbook = load_workbook(ws / "exports" / "ledger.xlsx")
    assert any("invoice_en_gb.pdf" in str(c.value) for sheet in workbook for row in sheet.iter_rows() for c in row)
