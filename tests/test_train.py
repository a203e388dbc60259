"""`ledgerlens train` on tiny random Qwen2-VL / Qwen2.5-VL models, offline, on CPU.

What a user relies on: an adapter trained on reviewed documents makes the engine read those
documents as they were labelled (a tiny model learns its four examples by heart, which it only
reproduces at reading time if the training sample is exactly what the engine reads: page images,
prompt, chat template, answer format, loss on the answer only); an interrupted run resumes to the
same adapter; a broken set of examples is refused before anything trains; an adapter never
attaches to another base model; `--register` puts it in ledgerlens.toml, comments kept.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("peft")
pytest.importorskip("llguidance")

from ledgerlens.pipeline.config import Config, EngineConfig, PipelineOptions, load_config
from ledgerlens.pipeline.doctypes.schemas import load_schemas
from ledgerlens.pipeline.errors import ConfigError

from ledgerlens.cli import main

pytestmark = pytest.mark.vlm

# Four documents of different page sizes (A4, US Letter, two till receipts): a tiny random vision
# tower barely tells two pages of one size apart, so their sizes (the number and layout of image
# tokens) are what lets the tiny model know which document it reads. A few key fields each.
DOCS = {
    "invoice_en_gb": ("invoice", ("invoice_number", "date", "total_amount")),
    "invoice_en_us": ("invoice", ("invoice_number", "date", "total_amount")),
    "receipt_gb_cafe": ("receipt", ("receipt_number", "date", "total_amount")),
    "receipt_us_hardware": ("receipt", ("receipt_number", "date", "total_amount")),
}
PIPELINE = {"dpi": 100, "second_ocr": "none"}
OPTIONS = {"max_pixels": 200704, "max_new_tokens": 96, "max_reasks": 0, "threads": 2}
TOML = """
[pipeline]
dpi = 100
second_ocr = "none"

[engine.options]
max_pixels = 200704
max_new_tokens = 96
max_reasks = 0
threads = 2
"""
FIT = ["--epochs", "40", "--lr", "0.004", "--dropout", "0", "--grad-accum", "1", "--validation-split", "0", "--force"]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from vlm_models import build_tiny_model

    return build_tiny_model("qwen2_vl", tmp_path_factory.mktemp("base") / "qwen2_vl", head_scale=25)


@pytest.fixture(scope="module")
def examples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Review examples (`<file>` + `<file>.json`, as `review` keeps them) of four generated documents."""
    from fixtures.generate import generate

    root = tmp_path_factory.mktemp("examples")
    generate(root / "generated", seed=0, scans=False, only=list(DOCS))
    folder = root / "examples"
    folder.mkdir()
    for name, (doc_type, keys) in DOCS.items():
        gt = json.loads((root / "generated" / f"{name}.gt.json").read_text(encoding="utf-8"))
        values = {**gt["fields"], **gt["fields_normalized"]}
        shutil.copy(root / "generated" / f"{name}.pdf", folder / f"{name}.pdf")
        label = {"schema": "ledgerlens-example/1", "doc_type": doc_type, "fields": {k: values[k] for k in keys}}
        (folder / f"{name}.pdf.json").write_text(json.dumps(label), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ws = tmp_path_factory.mktemp("ws") / "books"
    assert main(["init", str(ws)]) == 0
    toml = ws / "ledgerlens.toml"
    text = toml.read_text(encoding="utf-8").replace("dpi = 200 ", "dpi = 100 ").replace('"rapidocr" ', '"none" ')
    toml.write_text(text + "\n# my own note: keep this\n[engine.options]\n" + TOML.split("[engine.options]")[1])
    return ws


@pytest.fixture(scope="module")
def trained(base: Path, examples: Path, workspace: Path) -> Path:
    """An adapter trained through the command line, registered for invoices in the workspace."""
    out = examples.parent / "adapter"
    args = ["train", str(examples), "--model", str(base), "--out", str(out), *FIT]
    assert main([*args, "--workspace", str(workspace), "--register", "invoice"]) == 0
    return out


def labels(folder: Path) -> dict[str, dict[str, str]]:
    return {p.name.removesuffix(".json"): json.loads(p.read_text())["fields"] for p in folder.glob("*.pdf.json")}


# ---------------------------------------------------------------- training


@pytest.mark.slow
def test_training_halves_the_loss_and_records_what_the_adapter_was_made_from(trained, base, examples) -> None:
    import hashlib

    from ledgerlens.pipeline.engines.transformers.registry import weights_fingerprint

    assert {p.name for p in trained.iterdir()} >= {"adapter_config.json", "adapter_model.safetensors", "training.json"}
    assert not (trained / "checkpoints").exists()  # only an interrupted run keeps them
    record = json.loads((trained / "training.json").read_text())
    assert record["complete"] and record["loss"]["last"] <= record["loss"]["first"] / 2
    assert record["base_model"]["weights_fingerprint"] == weights_fingerprint(base)
    assert record["base_model"]["path"] == str(base) and record["base_model"]["family"] == "qwen2_vl"
    assert record["prompt_version"] == "extract-v1"
    assert set(record["schemas"]) == {"invoice", "receipt"}
    assert all(len(s["sha256"]) == 64 for s in record["schemas"].values())
    documents = {hashlib.sha256(p.read_bytes()).hexdigest() for p in examples.glob("*.pdf")}
    assert {e["sha256"] for e in record["examples"]["train"]} == documents
    assert record["hyperparameters"]["rank"] == 16 and record["hyperparameters"]["lr"] == 0.004
    assert record["engine_options"]["max_pixels"] == OPTIONS["max_pixels"]
    assert record["device"]["device"] == "cpu" and record["device"]["dtype"] == "float32"
    assert record["validation"] is None  # --validation-split 0: the last epoch's adapter


@pytest.mark.slow
def test_the_engine_reads_the_trained_documents_as_labelled(trained, base, examples, tmp_path) -> None:
    """`eval --adapter` runs the normal pipeline (read, classify, transformers engine with
    constrained decoding, parse, validate); --compare-adapter reads without it first. In its own
    process, as a user runs it (eval's worker pool forks; this test process has trained with torch)."""
    import subprocess
    import sys

    config = tmp_path / "eval.toml"
    config.write_text(TOML, encoding="utf-8")
    report = tmp_path / "report"
    args = ["eval", str(examples), "--engine", "transformers", "--model", str(base), "--config", str(config)]
    args += ["--adapter", str(trained), "--compare-adapter", "--report", str(report), "--workers", "1"]
    run = subprocess.run([sys.executable, "-m", "ledgerlens.cli", *args], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Exact match without and with the adapter" in run.stdout
    expected = labels(examples)
    read = {json.loads(line)["document"]: json.loads(line) for line in (report / "with" / "predictions.jsonl").open()}
    exact = [name for name, fields in expected.items() if read[name]["fields"] == fields]
    assert len(exact) >= 3, {name: read[name]["fields"] for name in expected}
    assert all(read[name]["doc_type"] == DOCS[name.removesuffix(".pdf")][0] for name in expected)
    without = [json.loads(line)["fields"] for line in (report / "without" / "predictions.jsonl").open()]
    assert not any(f in expected.values() for f in without)  # the random base model reads none
    overall = json.loads((report / "compare.json").read_text())[-1]
    assert overall["field"] == "overall (micro)" and overall["with"] >= 0.75 > overall["without"]


@pytest.mark.slow
def test_register_puts_the_adapter_in_the_workspace_configuration_keeping_comments(trained, workspace) -> None:
    from ledgerlens.pipeline.train.record import register_adapter

    toml = workspace / "ledgerlens.toml"
    register_adapter(toml, 'vendor:ACME "Tools" GmbH', trained, ["invoice", "receipt"])
    text = toml.read_text(encoding="utf-8")
    assert "# my own note: keep this" in text and "# offline default: Tesseract" in text
    engine = load_config(toml).engine
    assert engine.adapters == {"invoice": str(trained), 'vendor:ACME "Tools" GmbH': str(trained)}
    with pytest.raises(ConfigError, match=r"document type .*or vendor:NAME"):
        register_adapter(toml, "invoices", trained, ["invoice", "receipt"])
    with pytest.raises(ConfigError, match=r"name the vendor"):
        register_adapter(toml, "vendor:  ", trained, ["invoice", "receipt"])
    assert load_config(toml).engine.adapters == engine.adapters  # refused keys wrote nothing


@pytest.mark.slow
@pytest.mark.parametrize("family", ["qwen2_vl", "qwen2_5_vl"])
def test_an_adapter_is_refused_by_another_base_model(trained, family, tmp_path) -> None:
    """Another model (same architecture with other weights, or another family) is a ConfigError
    naming both; the same weights in another folder take the adapter."""
    from ledgerlens.pipeline.check.answers import PIPELINE_CHECKS
    from ledgerlens.pipeline.engines import create_engine
    from vlm_models import build_tiny_model

    def engine(model: Path) -> Any:
        config = Config(
            engine=EngineConfig(name="transformers", model=str(model), adapter=str(trained), options=OPTIONS)
        )
        return create_engine(config, PIPELINE_CHECKS)

    other = build_tiny_model(family, tmp_path / family)  # qwen2_vl: the same seed, an untrained head scale
    with pytest.raises(ConfigError, match=r"was trained on base model .* only fits the base model it was trained on"):
        engine(other)
    same = tmp_path / "copy"
    shutil.copytree(json.loads((trained / "training.json").read_text())["base_model"]["path"], same)
    assert engine(same).describe()["adapters"][0]["path"] == str(trained)


# ---------------------------------------------------------------- resuming


def _train(examples: Path, base: Path, out: Path, **request: Any) -> Any:
    from ledgerlens.pipeline.train.request import TrainRequest
    from ledgerlens.pipeline.train.run import train

    settings = {"epochs": 2, "grad_accum": 2, "validation_split": 0.25, "force": True, **request}
    config = Config(pipeline=PipelineOptions(**PIPELINE), engine=EngineConfig(model=str(base), options=OPTIONS))
    return train(TrainRequest(examples=(examples,), out=out, **settings), config, load_schemas(), say=lambda s: None)


@pytest.mark.slow
def test_ctrl_c_saves_a_checkpoint_and_resuming_gives_the_uninterrupted_result(
    examples, base, tmp_path, monkeypatch
) -> None:
    from ledgerlens.pipeline.train.callbacks import Progress
    from safetensors.torch import load_file

    before = signal.getsignal(signal.SIGINT)  # a job started in the background ignores SIGINT
    whole = _train(examples, base, tmp_path / "whole")
    assert whole.complete and whole.record["steps"] == 4  # 3 training documents, 2 per step, 2 epochs

    def ctrl_c_at_step_3(self: Any, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.global_step == 3:
            os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C sends; the training's handler takes it

    with monkeypatch.context() as patch:
        patch.setattr(Progress, "on_step_end", ctrl_c_at_step_3, raising=False)
        stopped = _train(examples, base, tmp_path / "parts")
    assert not stopped.complete and stopped.record["steps"] == 3
    assert (tmp_path / "parts" / "checkpoints" / "checkpoint-3").is_dir()
    assert signal.getsignal(signal.SIGINT) is before  # Ctrl-C is the user's again
    with pytest.raises(ConfigError, match=r"already holds an adapter or checkpoints"):
        _train(examples, base, tmp_path / "parts")
    resumed = _train(examples, base, tmp_path / "parts", resume=True)
    assert resumed.complete and resumed.record["steps"] == 4

    a = load_file(tmp_path / "whole" / "adapter_model.safetensors")
    b = load_file(tmp_path / "parts" / "adapter_model.safetensors")
    assert a.keys() == b.keys() and all(a[k].equal(b[k]) for k in a)
    assert resumed.record["loss"]["history"] == whole.record["loss"]["history"]
    assert resumed.record["validation"] == _without_seconds(whole.record["validation"], resumed.record["validation"])


def _without_seconds(expected: dict[str, Any], got: dict[str, Any]) -> dict[str, Any]:
    """`expected` with the validation timings of `got` (the only thing two runs may differ in)."""
    out = json.loads(json.dumps(expected))
    for mine, theirs in zip([out["before"], *out["epochs"], out["best"]],
                            [got["before"], *got["epochs"], got["best"]], strict=True):  # fmt: skip
        mine["seconds"] = theirs["seconds"]
    return out


# ---------------------------------------------------------------- bad input: refused before training


def _break(folder: Path, case: str) -> None:
    """Spoil a copy of the examples in one way."""
    label = folder / "invoice_en_gb.pdf.json"
    body = json.loads(label.read_text())
    if case == "empty_folder":
        shutil.rmtree(folder)
        folder.mkdir()
    elif case == "unreadable_labels":
        label.write_text("{not json", encoding="utf-8")
    elif case == "unknown_field":
        body["fields"]["favourite_colour"] = "blue"
    elif case == "bad_value":
        body["fields"]["total_amount"] = "lots"
    elif case == "unknown_doc_type":
        body["doc_type"] = "purchase_order"
    elif case == "missing_document":
        (folder / "invoice_en_gb.pdf").unlink()
    elif case == "empty_document":
        (folder / "invoice_en_gb.pdf").write_bytes(b"")
    elif case == "unreadable_document":
        (folder / "invoice_en_gb.pdf").write_bytes(b"%PDF-1.7\nthis is not a PDF at all\n" * 20)
    if case in ("unknown_field", "bad_value", "unknown_doc_type"):
        label.write_text(json.dumps(body), encoding="utf-8")


BAD = {
    "empty_folder": r"no examples \(<file> \+ <file>\.json pairs",
    "unreadable_labels": r"invoice_en_gb\.pdf\.json: unreadable labels",
    "unknown_field": r"invoice_en_gb\.pdf\.json: favourite_colour is not in the schema",
    "bad_value": r"invoice_en_gb\.pdf\.json: total_amount: 'lots' is not a number",
    "unknown_doc_type": r"doc_type 'purchase_order' has no schema \(known: bank_statement, invoice, receipt\)",
    "missing_document": r"invoice_en_gb\.pdf\.json: its document invoice_en_gb\.pdf is missing",
    "empty_document": r"invoice_en_gb\.pdf: the file is empty",
    "unreadable_document": r"invoice_en_gb\.pdf: cannot be read",
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_broken_set_of_examples_is_refused_before_training(case, examples, base, tmp_path, capsys) -> None:
    folder = tmp_path / "examples"
    shutil.copytree(examples, folder)
    _break(folder, case)
    out = tmp_path / "adapter"
    assert main(["train", str(folder), "--model", str(base), "--out", str(out), "--force"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ledgerlens: error:") and "nothing was trained" in err
    assert re.search(BAD[case], err), err
    assert not out.exists() or not any(out.iterdir())


def test_too_few_examples_need_force_and_a_missing_folder_is_named(examples, base, tmp_path, capsys) -> None:
    out = tmp_path / "adapter"
    assert main(["train", str(examples), "--model", str(base), "--out", str(out)]) == 2
    assert "only 4 example(s); an adapter needs at least 10" in capsys.readouterr().err
    assert main(["train", str(tmp_path / "nowhere"), "--model", str(base), "--out", str(out), "--force"]) == 2
    assert "nowhere: not a folder of examples" in capsys.readouterr().err
    assert not out.exists()


def test_a_model_without_weights_and_qlora_on_cpu_are_refused(examples, base, tmp_path, capsys) -> None:
    hollow = tmp_path / "hollow"
    shutil.copytree(base, hollow, ignore=shutil.ignore_patterns("*.safetensors"))
    out = tmp_path / "adapter"
    assert main(["train", str(examples), "--model", str(hollow), "--out", str(out), "--force"]) == 2
    assert "has no weights in" in capsys.readouterr().err
    assert main(["train", str(examples), "--model", str(base), "--out", str(out), "--force", "--qlora"]) == 2
    assert "--qlora loads the base model in 4 bits with bitsandbytes, which needs a CUDA GPU" in capsys.readouterr().err


def test_an_answer_the_engine_could_not_write_is_refused(examples, base, tmp_path, capsys) -> None:
    """Checked once the model is loaded (its grammar and end-of-turn tokens), still before training."""
    config = tmp_path / "small.toml"
    config.write_text(TOML.replace("max_new_tokens = 96", "max_new_tokens = 16"), encoding="utf-8")
    out = tmp_path / "adapter"
    args = ["train", str(examples), "--model", str(base), "--out", str(out), "--force", "--config", str(config)]
    assert main(args) == 2
    assert "tokens, over engine.options.max_new_tokens = 16" in capsys.readouterr().err
    assert not (out / "adapter_model.safetensors").exists() and not any((out / "checkpoints").glob("checkpoint-*"))


# ---------------------------------------------------------------- the sample is the reading input


@pytest.mark.parametrize("family", ["qwen2_vl", "qwen2_5_vl"])
def test_the_training_sample_is_the_reading_input_followed_by_the_answer(family, examples, tmp_path) -> None:
    """The prompt part of a training sample is, token for token and pixel for pixel, what the engine
    generates from; the labels score the canonical answer and the end-of-turn token only, and the
    grammar allows that answer token by token."""
    from ledgerlens.pipeline.check.answers import PIPELINE_CHECKS
    from ledgerlens.pipeline.engines import create_engine
    from ledgerlens.pipeline.engines.model.constrain import canonical_answer, model_schema
    from ledgerlens.pipeline.engines.model.images import page_image
    from ledgerlens.pipeline.engines.model.prompts import start
    from ledgerlens.pipeline.engines.transformers.inputs import IGNORE_INDEX, model_inputs
    from ledgerlens.pipeline.read.load import load_document
    from ledgerlens.pipeline.read.rasterize import rasterize
    from ledgerlens.pipeline.train.data import Collator
    from vlm_models import build_tiny_model

    model = build_tiny_model(family, tmp_path / family)
    engine = create_engine(Config(engine=EngineConfig(name="transformers", model=str(model), options=OPTIONS)),
                           PIPELINE_CHECKS)  # fmt: skip
    schema = load_schemas()["invoice"]
    opts = PipelineOptions(**PIPELINE)
    doc = rasterize(load_document(examples / "invoice_en_gb.pdf", opts), opts, tmp_path / "pages", all_pages=True)
    images = [page_image(p, engine.factor, engine.options.min_pixels, engine.options.max_pixels) for p in doc.pages]
    conversation = start(engine.prompt, family, schema, len(images))
    fields = labels(examples)["invoice_en_gb.pdf"]
    answer = canonical_answer(fields, model_schema(schema.bundled()))
    assert answer == json.dumps(fields, separators=(",", ":"))  # schema order, no spaces

    reading = engine.generator.prepare(conversation, images)
    sample = model_inputs(engine.loaded.processor, conversation, images, answer=answer)
    n = reading["input_ids"].shape[1]
    assert sample["input_ids"][:, :n].equal(reading["input_ids"])
    assert sample["pixel_values"].equal(reading["pixel_values"])
    assert sample["image_grid_thw"].equal(reading["image_grid_thw"])
    assert sample["mm_token_type_ids"][:, :n].equal(reading["mm_token_type_ids"])
    assert not sample["mm_token_type_ids"][:, n:].any() and sample["attention_mask"].all()
    labels_ = sample["labels"][0]
    assert (labels_[:n] == IGNORE_INDEX).all() and (labels_[n:] == sample["input_ids"][0, n:]).all()
    tokenizer = engine.loaded.tokenizer
    assert tokenizer.decode(labels_[n:]) == answer + "<|im_end|>"
    assert int(labels_[-1]) in engine.generator.eos_ids
    grammar, model_facing = engine.generator.grammar, model_schema(schema.bundled())
    assert grammar.accepts(model_facing, labels_[n:-1].tolist())
    spaced = tokenizer(json.dumps(fields), add_special_tokens=False)["input_ids"]
    assert not grammar.accepts(model_facing, spaced)  # what the grammar would never let the model write

    shorter = model_inputs(engine.loaded.processor, conversation, images, answer='{"date":"2025-01-02"}')
    batch = Collator(tokenizer.pad_token_id)([dict(sample), dict(shorter)])
    assert batch["input_ids"].shape == (2, sample["input_ids"].shape[1]) == batch["mm_token_type_ids"].shape
    assert batch["pixel_values"].shape[0] == 2 * sample["pixel_values"].shape[0]
    pad = sample["input_ids"].shape[1] - shorter["input_ids"].shape[1]
    assert (batch["labels"][1, -pad:] == IGNORE_INDEX).all() and not batch["attention_mask"][1, -pad:].any()


def test_lora_adapts_the_language_model_and_the_vision_blocks_only_when_asked() -> None:
    from ledgerlens.pipeline.train.lora import target_pattern
    from ledgerlens.pipeline.train.request import TrainRequest

    names = ["model.language_model.layers.0.self_attn.q_proj", "model.language_model.layers.1.mlp.down_proj",
             "model.visual.blocks.0.attn.qkv", "model.visual.blocks.1.mlp.fc2", "model.visual.patch_embed.proj",
             "model.visual.merger.mlp.0", "lm_head"]  # fmt: skip

    def adapted(**request: Any) -> list[str]:
        pattern = target_pattern(TrainRequest(examples=(Path("."),), out=Path("out"), **request))
        return [n for n in names if re.fullmatch(pattern, n)]

    assert adapted() == names[:2]
    assert adapted(train_vision=True) == names[:4]
    assert adapted(target_modules=("v_proj",)) == []
    with pytest.raises(ConfigError, match=r"--target-modules"):
        TrainRequest(examples=(Path("."),), out=Path("out"), target_modules=("q_proj|.*",))
