"""The text route: text models (NuExtract 1.5, any causal LM) read the pages' layout text.

Tiny random Qwen2 and Phi-3 causal LMs built offline (tests/text_models.py) stand in for
NuExtract-tiny-v1.5 and NuExtract-1.5: their output is noise, so what is tested is what holds
whatever the weights: the model's kind picks the route, the NuExtract input is the model card's to
the character, output is schema-valid through the real pipeline (born-digital and scanned), long
documents are read in chunks and merged, and a vision model given the words has them in its prompt.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("llguidance")

from ledgerlens.pipeline.check.answers import PIPELINE_CHECKS
from ledgerlens.pipeline.config import Config, EngineConfig
from ledgerlens.pipeline.doctypes.schemas import load_schemas
from ledgerlens.pipeline.engines import create_engine
from ledgerlens.pipeline.engines.model.prompts import load_prompt, nuextract_template, start
from ledgerlens.pipeline.engines.transformers.inputs import chat_prompt
from ledgerlens.pipeline.engines.transformers.registry import load_registry, resolve_model
from ledgerlens.pipeline.errors import ConfigError
from ledgerlens.pipeline.read.pagetext import render_pages

pytestmark = pytest.mark.vlm

SMALL = {"max_new_tokens": 120, "max_reasks": 0, "threads": 1}


@pytest.fixture(scope="session")
def text_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from text_models import build_tiny_text_model

    root = tmp_path_factory.mktemp("tiny-text")
    return {family: build_tiny_text_model(family, root / family) for family in ("qwen2", "phi3")}


@pytest.fixture(scope="session")
def born_digital(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from fixtures.generate import generate

    folder = tmp_path_factory.mktemp("text-route-docs")
    generate(folder, seed=0, scans=True, only=["invoice_en_gb", "invoice_de_2pages"])
    return folder


@pytest.fixture(scope="session")
def invoice_schema():
    return load_schemas()["invoice"]


def text_engine(model: Path | str, **spec: Any) -> Any:
    options = {**SMALL, **spec.pop("options", {})}
    config = Config(engine=EngineConfig(name="transformers", model=str(model), options=options, **spec))
    return create_engine(config, PIPELINE_CHECKS)


def _pages(path: Path, images: bool = False) -> list:
    from ledgerlens.pipeline.config import PipelineOptions
    from ledgerlens.pipeline.read.load import load_document
    from ledgerlens.pipeline.read.ocr import read_text
    from ledgerlens.pipeline.read.rasterize import rasterize

    opts = PipelineOptions()
    work = path.parent / f"{path.stem}-pages{'-all' if images else ''}"
    doc = rasterize(load_document(path, opts), opts, work, all_pages=images)
    return read_text(doc, opts).pages


# ---------------------------------------------------------------- registry and prompt


def test_text_models_are_in_the_registry_by_kind_and_a_folder_says_its_own():
    registry = load_registry()
    tiny, full = registry.models["nuextract-1.5-tiny"], registry.models["nuextract-1.5"]
    assert (tiny.kind, tiny.hub_id, tiny.family, tiny.license) == ("text", "numind/NuExtract-tiny-v1.5", "qwen2", "MIT")
    assert (full.kind, full.hub_id, full.family, full.license) == ("text", "numind/NuExtract-1.5", "phi3", "MIT")
    assert registry.models["qwen2-vl-2b"].kind == "vision"
    assert registry.vram_gb(full)["int8"] < registry.vram_gb(full)["fp16"]


def test_doctor_chooses_a_text_model_when_asked_and_models_list_shows_kinds(capsys) -> None:
    from ledgerlens.pipeline.engines.transformers.doctor import Gpu, Machine, recommend

    from ledgerlens.cli import main

    registry = load_registry()
    cpu = Machine([], 2, 2, 23.0, 22.0, "2.13.0")
    assert recommend(cpu, registry).model == "qwen2-vl-2b"  # a vision model unless text is asked for
    text = recommend(cpu, registry, "text")
    assert (text.model, text.quant, text.device) == ("nuextract-1.5-tiny", "int8", "cpu")
    gpu = Machine([Gpu(0, "GPU", 24.0, 24.0)], 8, 16, 64.0, 60.0, "2.13.0")
    assert (recommend(gpu, registry, "text").model, recommend(gpu, registry, "text").quant) == ("nuextract-1.5", "none")
    assert main(["doctor", "--kind", "text"]) == 0
    assert "nuextract-1.5-tiny" in capsys.readouterr().out
    assert main(["models", "list"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if "nuextract-1.5-t" in line]
    assert rows and "text" in rows[0] and "qwen2" in rows[0]


def test_a_model_folder_of_a_causal_lm_is_a_text_model(text_models) -> None:
    resolved = resolve_model(str(text_models["qwen2"]))
    assert (resolved.kind, resolved.auto_class) == ("text", "AutoModelForCausalLM")


def test_the_nuextract_input_is_the_model_cards_exactly(invoice_schema) -> None:
    """The card's `predict_NuExtract`: the template dumped with indent=4, then the text, then the marker."""
    prompt = load_prompt("nuextract-1.5")
    text = "--- page 1 of 1 ---\nInvoice No.: INV-1\nTotal  12.50 EUR"
    conversation = start(prompt, "phi3", invoice_schema, 1, words=text, plain=True)
    template = json.loads(nuextract_template(invoice_schema, "empty"))
    card = f"""<|input|>\n### Template:\n{json.dumps(template, indent=4)}\n### Text:\n{text}\n\n<|output|>"""
    assert chat_prompt(None, conversation) == card
    assert card.startswith('<|input|>\n### Template:\n{\n    "')
    # NuExtract 1.5 templates: every value an empty string, a list holds one item template.
    assert template["total_amount"] == "" and template["invoice_number"] == ""
    assert isinstance(template["line_items"], list) and len(template["line_items"]) == 1
    assert all(v == "" for v in template["line_items"][0].values())


def test_a_text_model_with_a_prompt_for_images_is_refused(text_models) -> None:
    with pytest.raises(ConfigError, match=r"does not suit .* a text model"):
        text_engine(text_models["qwen2"], prompt_version="extract-v1")


def test_a_registry_text_model_missing_from_the_cache_names_the_pull_command(tmp_path, monkeypatch) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(ConfigError, match=r"NuExtract-tiny-v1.5.*ledgerlens models pull nuextract-1.5-tiny"):
        text_engine("nuextract-1.5-tiny")


# ---------------------------------------------------------------- reading


@pytest.mark.parametrize(("family", "prompt"), [("qwen2", ""), ("phi3", "nuextract-1.5")])
def test_a_text_model_reads_the_words_into_schema_valid_data(text_models, born_digital, invoice_schema, family, prompt):
    engine = text_engine(text_models[family], prompt_version=prompt, options={"max_reasks": 1})
    assert engine.needs_images is False  # pages are rasterized only where OCR needs them
    pages = _pages(born_digital / "invoice_en_gb.pdf")
    out = engine.extract(pages, "invoice", invoice_schema)
    assert invoice_schema.errors(out.data) == []
    info = out.model_info
    assert (info["kind"], info["reads"]) == ("text", "words")
    assert info["prompt_version"] == (prompt or "extract-text-v1")
    assert info["document"]["text_chunks"] == [{"pages": [1], "tokens": info["document"]["text_chunks"][0]["tokens"]}]
    assert info["document"]["attempts"][0]["new_tokens"] > 0
    assert info["document"]["prompt_tokens"] > info["document"]["text_chunks"][0]["tokens"]
    for key, ev in out.field_evidence.items():  # confidence from the log-probabilities, grounding on the words
        assert 0.0 <= ev.confidence <= 1.0 and key in out.data
    flagged = {i.field for i in out.issues if i.code == "not_on_page"}
    for key in ("total_amount", "date", "iban", "invoice_number"):
        if key in out.data:
            assert key in flagged  # random values are printed nowhere


def test_a_long_document_is_read_in_chunks_and_merged(text_models, born_digital, invoice_schema) -> None:
    pages = _pages(born_digital / "invoice_de_2pages.pdf")
    engine = text_engine(text_models["phi3"], prompt_version="nuextract-1.5", options={"max_context_tokens": 2600})
    out = engine.extract(pages, "invoice", invoice_schema)
    doc = out.model_info["document"]
    chunks = doc["text_chunks"]
    assert len(chunks) >= 2 and chunks[0]["pages"][0] == 1 and chunks[-1]["pages"][-1] == 2
    assert len(doc["conversations"]) == len(chunks)  # one reading per chunk, merged into one answer
    assert invoice_schema.errors(out.data) == []
    assert all(a["prompt_tokens"] <= 2600 - 120 for a in doc["attempts"])  # each fits the context


def test_the_pipeline_reads_born_digital_and_scanned_invoices_with_a_text_model(text_models, born_digital) -> None:
    from ledgerlens.pipeline.chain import Context, process_file

    engine = EngineConfig(
        name="transformers", model=str(text_models["phi3"]), prompt_version="nuextract-1.5", options=SMALL
    )
    config = Config(engine=engine)
    ctx = Context.create(config, scratch=born_digital)
    schema = ctx.schemas["invoice"]
    for name, source in (("invoice_en_gb.pdf", "text_layer"), ("invoice_en_gb.scan.png", "ocr")):
        result = process_file(born_digital / name, ctx)
        assert result.doc_type == "invoice" and str(result.status) == "needs_review"  # random weights: never ok
        assert result.data and schema.errors(result.data) == []
        info = result.provenance["engine"]
        assert (info["kind"], info["reads"]) == ("text", "words")
        assert info["document"]["text_chunks"][0]["tokens"] > 100  # the words were read (text layer or OCR)
        assert result.provenance["pages"][0]["text_source"] == source


# ---------------------------------------------------------------- a vision model given the words


def test_words_true_puts_the_layout_text_in_a_vision_models_prompt(born_digital, invoice_schema) -> None:
    pages = _pages(born_digital / "invoice_en_gb.pdf")
    words = render_pages(pages)
    for version in ("extract-v1", "nuextract-2"):
        prompt = load_prompt(version)
        plain = start(prompt, "qwen2_vl", invoice_schema, 1)
        hybrid = start(prompt, "qwen2_vl", invoice_schema, 1, words=words)
        text = _texts(hybrid)
        assert "INV-2025-0650" in text and "--- page 1 of 1 ---" in text
        assert [p for m in hybrid.messages for p in m["content"] if isinstance(p, dict) and p["type"] == "image"]
        before = _texts(plain)  # the version's own text is unchanged: the words come after it
        assert text.startswith(before)


def _texts(conversation: Any) -> str:
    parts = [p for m in conversation.messages if isinstance(m["content"], list) for p in m["content"]]
    return "\n".join(p["text"] for p in parts if p["type"] == "text")


def test_the_transformers_engine_with_words_true_gives_a_vision_model_the_words(born_digital, invoice_schema, tmp_path):
    from ledgerlens.pipeline.engines.transformers.inputs import chat_prompt as rendered
    from vlm_models import build_tiny_model

    folder = build_tiny_model("qwen2_vl", tmp_path / "qwen2_vl")
    pages = _pages(born_digital / "invoice_en_gb.pdf", images=True)
    options = {**SMALL, "max_pixels": 448 * 448, "max_new_tokens": 32}
    plain, hybrid = (text_engine(folder, options={**options, "words": w}) for w in (False, True))
    seen: list[str] = []
    prepare = hybrid.generator.prepare
    hybrid.generator.prepare = lambda conv, images: (
        seen.append(rendered(hybrid.loaded.processor, conv)) or prepare(conv, images)
    )
    out = hybrid.extract(pages, "invoice", invoice_schema)
    assert "INV-2025-0650" in seen[0] and "<|image_pad|>" in seen[0]  # the words beside the image
    assert out.model_info["reads"] == "images+words" and plain.describe()["reads"] == "images"
    assert invoice_schema.errors(out.data) == []
    without = plain.extract(pages, "invoice", invoice_schema).model_info["document"]["prompt_tokens"]
    assert out.model_info["document"]["prompt_tokens"] > without + 500


# ---------------------------------------------------------------- a text model behind a server


def _server_engine(server: Any, model: str, **options: Any) -> Any:
    options = {"base_url": server.base_url, "backoff_s": 0.05, "timeout_s": 5.0, **options}
    return create_engine(
        Config(engine=EngineConfig(name="openai", model=model, **options.pop("spec", {}), options=options)),
        PIPELINE_CHECKS,
    )


def test_openai_text_mode_sends_the_words_instead_of_images(born_digital, invoice_schema) -> None:
    from openai_server import FakeModelServer, Reply, completion

    pages = _pages(born_digital / "invoice_en_gb.pdf")
    truth = json.loads((born_digital / "invoice_en_gb.gt.json").read_text())["fields_normalized"]
    answer = json.dumps({k: truth[k] for k in ("invoice_number", "date", "total_amount", "iban", "vendor_name")})
    with FakeModelServer(lambda path, body: Reply(200, completion(answer))) as server:
        engine = _server_engine(server, "qwen2.5:7b", input="text")
        assert engine.needs_images is False
        out = engine.extract(pages, "invoice", invoice_schema)
    (request,) = server.posts()
    sent = json.dumps(request.body["messages"])
    assert "image_url" not in sent and "base64" not in sent
    user = request.body["messages"][-1]["content"][0]["text"]
    assert "--- page 1 of 1 ---" in user and "INV-2025-0650" in user and "Amount Due" in user
    assert request.body["response_format"]["json_schema"]["name"] == "invoice"  # still schema-constrained
    for key in ("invoice_number", "date", "total_amount", "iban"):
        assert out.data[key] == truth[key] and out.field_evidence[key].source == "model+page"  # grounded on the words
    assert out.model_info["reads"] == "words" and out.model_info["prompt_version"] == "extract-text-v1"
    assert out.model_info["document"]["text_chunks"][0]["pages"] == [1]


def test_ollama_nuextract_gets_the_model_cards_input_as_its_message(born_digital, invoice_schema) -> None:
    from openai_server import FakeModelServer, Reply

    pages = _pages(born_digital / "invoice_en_gb.pdf")
    answer = {"message": {"role": "assistant", "content": '{"invoice_number": "INV-2025-0650"}'}, "done_reason": "stop"}
    with FakeModelServer(lambda path, body: Reply(200, answer)) as server:
        engine = _server_engine(
            server, "nuextract", preset="ollama", input="text", spec={"prompt_version": "nuextract-1.5"}
        )
        out = engine.extract(pages, "invoice", invoice_schema)
    (request,) = server.posts()
    assert request.path == "/api/chat"
    (message,) = request.body["messages"]
    assert message["content"].startswith("<|input|>\n### Template:\n{") and message["content"].endswith(
        "\n\n<|output|>"
    )
    assert "INV-2025-0650" in message["content"] and "images" not in message
    assert out.data["invoice_number"] == "INV-2025-0650"


def test_a_text_prompt_for_an_images_server_is_refused(invoice_schema) -> None:
    with pytest.raises(ConfigError, match=r'does not suit input = "images"'):
        create_engine(
            Config(engine=EngineConfig(name="openai", model="m", prompt_version="nuextract-1.5", options={})),
            PIPELINE_CHECKS,
        )


# ---------------------------------------------------------------- training a text model


@pytest.mark.slow
@pytest.mark.parametrize("prompt", ["", "nuextract-1.5"])
def test_train_fits_a_lora_on_a_text_model_from_the_same_examples(born_digital, tmp_path, prompt) -> None:
    """The examples `train` takes for a vision model (a document + its labels) train a text model:
    the sample is the words as the engine reads them, followed by the answer; the loss goes down."""
    import shutil

    from ledgerlens.pipeline.config import PipelineOptions
    from ledgerlens.pipeline.train.request import TrainRequest
    from ledgerlens.pipeline.train.run import train
    from text_models import build_tiny_text_model

    base = build_tiny_text_model("qwen2", tmp_path / "qwen2", head_scale=25)
    examples = tmp_path / "examples"
    examples.mkdir()
    truth = json.loads((born_digital / "invoice_en_gb.gt.json").read_text())["fields_normalized"]
    shutil.copy(born_digital / "invoice_en_gb.pdf", examples / "invoice_en_gb.pdf")
    fields = {k: truth[k] for k in ("invoice_number", "date", "total_amount")}
    label = {"schema": "ledgerlens-example/1", "doc_type": "invoice", "fields": fields}
    (examples / "invoice_en_gb.pdf.json").write_text(json.dumps(label), encoding="utf-8")
    options = {"max_new_tokens": 96, "max_reasks": 0, "threads": 2}
    engine = EngineConfig(model=str(base), prompt_version=prompt, options=options)
    config = Config(pipeline=PipelineOptions(dpi=100, second_ocr="none"), engine=engine)
    request = TrainRequest(examples=(examples,), out=tmp_path / "adapter", epochs=4, lr=0.004, dropout=0.0,
                           grad_accum=1, validation_split=0.0, force=True)  # fmt: skip
    outcome = train(request, config, load_schemas(), say=lambda s: None)
    record = outcome.record
    assert outcome.complete and record["loss"]["last"] < record["loss"]["first"] * 0.8
    assert record["base_model"]["family"] == "qwen2" and record["prompt_version"] == (prompt or "extract-text-v1")
    assert (tmp_path / "adapter" / "adapter_model.safetensors").is_file()


# ---------------------------------------------------------------- routed: text PDFs to a text model


def test_a_route_reads_born_digital_pdfs_with_a_text_model_and_scans_with_ocr(text_models, born_digital) -> None:
    from ledgerlens.pipeline.chain import Context, process_file

    text_route = {
        "name": "transformers",
        "model": str(text_models["qwen2"]),
        "prompt_version": "nuextract-1.5",
        "options": SMALL,
    }
    config = Config(engine=EngineConfig(name="ocr", routes={"born_digital": text_route}))
    ctx = Context.create(config, scratch=born_digital)
    pdf = process_file(born_digital / "invoice_en_gb.pdf", ctx)
    scan = process_file(born_digital / "invoice_en_gb.scan.png", ctx)
    assert pdf.provenance["route"]["name"] == "born_digital"
    assert (pdf.provenance["engine"]["kind"], pdf.provenance["engine"]["reads"]) == ("text", "words")
    assert ctx.schemas["invoice"].errors(pdf.data) == []
    assert scan.provenance["route"]["kind"] == "scanned"
    assert scan.provenance["engine"]["engine"] == "ocr"
    assert scan.data.get("total_amount") is not None  # the OCR engine read the scan
