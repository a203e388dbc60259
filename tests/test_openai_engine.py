"""The `openai` engine against a real loopback HTTP server playing vLLM, LM Studio, llama.cpp
server or Ollama: the exact request each preset sends, recorded answers replayed (good, not JSON,
schema-invalid, 429, a hang, an unknown model) and what the engine makes of them."""

from __future__ import annotations

import base64
import io
import json
import logging
import threading
import time
from typing import Any

import pytest
from ledgerlens.pipeline.check.answers import PIPELINE_CHECKS
from ledgerlens.pipeline.config import Config, EngineConfig, PipelineOptions
from ledgerlens.pipeline.doctypes.schemas import load_schemas
from ledgerlens.pipeline.engines import create_engine
from ledgerlens.pipeline.engines.model.constrain import model_schema
from ledgerlens.pipeline.errors import ConfigError, DocumentError
from openai_server import FakeModelServer, Reply, recorded

MODEL = "qwen2.5-vl-7b"
FAST = {"backoff_s": 0.05, "timeout_s": 5.0}


@pytest.fixture(scope="module")
def invoice(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """invoice_en_gb's pages (rasterized image + text-layer words) and its ground truth."""
    from fixtures.generate import generate
    from ledgerlens.pipeline.read.load import load_document
    from ledgerlens.pipeline.read.ocr import read_text
    from ledgerlens.pipeline.read.rasterize import rasterize

    folder = tmp_path_factory.mktemp("openai-invoice")
    generate(folder, seed=0, scans=False, only=["invoice_en_gb"])
    opts = PipelineOptions()
    doc = rasterize(load_document(folder / "invoice_en_gb.pdf", opts), opts, folder / "pages", all_pages=True)
    truth = json.loads((folder / "invoice_en_gb.gt.json").read_text())["fields_normalized"]
    return {"pages": read_text(doc, opts).pages, "truth": truth, "folder": folder}


@pytest.fixture(scope="module")
def schema():
    return load_schemas()["invoice"]


def engine_for(server: FakeModelServer, model: str = MODEL, **options: Any) -> Any:
    options = {"base_url": server.base_url, **FAST, **options}
    return create_engine(Config(engine=EngineConfig(name="openai", model=model, options=options)), PIPELINE_CHECKS)


def _image_bytes(data_url: str) -> bytes:
    header, _, payload = data_url.partition(",")
    assert header == "data:image/jpeg;base64"
    return base64.b64decode(payload)


# ---------------------------------------------------------------- the request each preset sends


@pytest.mark.parametrize(
    ("preset", "recording", "logprobs"),
    [("vllm", "vllm_invoice_en_gb", True), ("lmstudio", "lmstudio_invoice_en_gb", False),
     ("llamacpp", "llamacpp_invoice_en_gb", True)],
)  # fmt: skip
def test_openai_style_presets_send_data_url_images_and_the_schema_as_response_format(
    invoice, schema, preset, recording, logprobs
) -> None:
    with FakeModelServer(lambda path, body: recorded(recording)) as server:
        out = engine_for(server, preset=preset).extract(invoice["pages"], "invoice", schema)
    (request,) = server.posts()
    body = request.body
    assert request.path == "/v1/chat/completions"
    assert body["model"] == MODEL and body["stream"] is False and body["max_tokens"] == 1024
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "invoice", "strict": True, "schema": model_schema(schema.bundled())},
    }
    assert body.get("logprobs", False) is logprobs
    assert "authorization" not in {k.lower() for k in request.headers}
    system, user = body["messages"]
    assert system["role"] == "system" and user["role"] == "user"
    image, text = user["content"]
    from PIL import Image

    page = Image.open(io.BytesIO(_image_bytes(image["image_url"]["url"])))
    assert page.format == "JPEG" and page.width * page.height <= 1280 * 28 * 28
    assert text["type"] == "text" and "invoice_number" in text["text"]
    # the answer, read back: every value of the recording, grounded on the page
    for key in ("invoice_number", "total_amount", "date", "iban", "vendor_name"):
        assert out.data[key] == invoice["truth"][key]
    assert out.field_evidence["total_amount"].source == "model+page"
    assert not [i for i in out.issues if i.code == "not_on_page"]
    info = out.model_info
    assert info["engine"] == "openai" and info["preset"] == preset and info["base_url"] == server.base_url
    assert info["document"]["requests"] == 1 and info["document"]["retries"] == 0


def test_confidence_comes_from_the_servers_logprobs_when_it_returns_them(invoice, schema) -> None:
    with FakeModelServer() as server:  # vLLM recording: buyer_address tokens at log-probability -1.5
        out = engine_for(server, preset="vllm").extract(invoice["pages"], "invoice", schema)
    conf = {k: ev.confidence for k, ev in out.field_evidence.items()}
    assert conf["buyer_address"] == pytest.approx(0.2231, abs=1e-3)  # exp(-1.5)
    assert conf["total_amount"] == pytest.approx(0.99, abs=1e-3)  # exp(-0.01)
    assert out.model_info["document"]["confidence_from"] == "logprobs"
    assert out.token_logprobs and all(lp <= 0 for lp in out.token_logprobs)


def test_without_logprobs_every_field_gets_the_configured_default_confidence(invoice, schema) -> None:
    with FakeModelServer(lambda path, body: recorded("lmstudio_invoice_en_gb")) as server:
        out = engine_for(server, preset="lmstudio", default_confidence=0.65).extract(
            invoice["pages"], "invoice", schema
        )
    assert {ev.confidence for ev in out.field_evidence.values()} == {0.65}
    assert out.model_info["document"]["confidence_from"] == "default_confidence"


def test_the_ollama_preset_uses_its_chat_endpoint_with_the_schema_as_format(invoice, schema) -> None:
    with FakeModelServer(lambda path, body: recorded("ollama_invoice_en_gb")) as server:
        out = engine_for(server, model="qwen2.5vl:7b", preset="ollama").extract(invoice["pages"], "invoice", schema)
    (request,) = server.posts()
    body = request.body
    assert request.path == "/api/chat"
    assert body["model"] == "qwen2.5vl:7b" and body["stream"] is False
    assert body["format"] == model_schema(schema.bundled()) and "response_format" not in body
    assert body["options"]["num_predict"] == 1024 and body["logprobs"] is True
    user = body["messages"][-1]
    assert isinstance(user["content"], str) and "invoice_number" in user["content"]
    (image,) = user["images"]
    assert base64.b64decode(image)[:3] == b"\xff\xd8\xff"  # plain base64 JPEG, no data: prefix
    assert out.data["total_amount"] == invoice["truth"]["total_amount"]
    assert out.model_info["document"]["confidence_from"] == "logprobs"


def test_structured_output_none_sends_no_schema_and_relies_on_parse_validate_and_reask(invoice, schema) -> None:
    with FakeModelServer() as server:
        server.enqueue(recorded("schema_invalid"))
        out = engine_for(server, structured_output="none").extract(invoice["pages"], "invoice", schema)
    first, second = (r.body for r in server.posts())
    assert "response_format" not in first and "format" not in first
    assert len(second["messages"]) == len(first["messages"]) + 2  # the answer, then its problems
    assert out.data["date"] == "2025-07-25"


# ---------------------------------------------------------------- bad answers


def test_malformed_json_is_put_back_to_the_model_with_the_parse_error(invoice, schema) -> None:
    with FakeModelServer() as server:
        server.enqueue(recorded("malformed_json"))
        out = engine_for(server).extract(invoice["pages"], "invoice", schema)
    _first, second = (r.body for r in server.posts())
    assistant, reask = second["messages"][-2:]
    assert assistant["role"] == "assistant" and assistant["content"][0]["text"].startswith('{"document_subtype"')
    assert reask["role"] == "user" and "not valid JSON" in reask["content"][0]["text"]
    attempts = out.model_info["document"]["attempts"]
    assert len(attempts) == 2 and "not valid JSON" in attempts[0]["problems"][0] and not attempts[1]["problems"]
    assert out.data["invoice_number"] == invoice["truth"]["invoice_number"]


def test_malformed_json_every_time_ends_as_an_invalid_output_issue_not_empty_success(invoice, schema) -> None:
    with FakeModelServer(lambda path, body: recorded("malformed_json")) as server:
        out = engine_for(server, max_reasks=1).extract(invoice["pages"], "invoice", schema)
    assert len(server.posts()) == 2 and out.data == {}
    codes = {i.code: i.severity for i in out.issues}
    assert codes["model_output_invalid"] == "error" and codes["reask_exhausted"] == "warning"


def test_schema_invalid_json_is_reasked_with_the_schema_errors(invoice, schema) -> None:
    with FakeModelServer() as server:
        server.enqueue(recorded("schema_invalid"))
        out = engine_for(server).extract(invoice["pages"], "invoice", schema)
    reask = server.posts()[1].body["messages"][-1]["content"][0]["text"]
    assert "date" in reask and "total_amount" in reask
    assert out.data["date"] == "2025-07-25" and out.data["total_amount"] == "2612.02"


# ---------------------------------------------------------------- transport failures


def test_429_is_retried_after_retry_after_then_succeeds(invoice, schema) -> None:
    with FakeModelServer() as server:
        server.enqueue(recorded("rate_limited"))
        out = engine_for(server).extract(invoice["pages"], "invoice", schema)
    assert len(server.posts()) == 2
    assert out.model_info["document"]["retries"] == 1 and out.data["total_amount"] == "2612.02"


def test_a_server_that_stays_overloaded_is_a_transient_document_error(invoice, schema) -> None:
    overloaded = FakeModelServer(lambda path, body: Reply(503, {"error": {"message": "loading model"}}))
    with overloaded as server, pytest.raises(DocumentError) as e:
        engine_for(server, max_retries=2).extract(invoice["pages"], "invoice", schema)
    assert len(server.posts()) == 3
    assert e.value.code == "model_server_busy" and e.value.transient and "loading model" in e.value.message


def test_a_hang_past_the_timeout_is_retried_and_a_lasting_hang_is_transient(invoice, schema) -> None:
    with FakeModelServer() as server:
        server.enqueue(Reply(delay_s=30))
        started = time.monotonic()
        out = engine_for(server, timeout_s=0.5).extract(invoice["pages"], "invoice", schema)
        assert time.monotonic() - started < 10
    assert out.model_info["document"]["retries"] == 1 and out.data["invoice_number"] == "INV-2025-0650"
    with FakeModelServer(lambda path, body: Reply(delay_s=30)) as server, pytest.raises(DocumentError) as e:
        engine_for(server, timeout_s=0.3, max_retries=1).extract(invoice["pages"], "invoice", schema)
    assert e.value.code == "model_server_timeout" and e.value.transient and len(server.posts()) == 2


def test_an_unknown_model_is_refused_once_not_retried(invoice, schema) -> None:
    with FakeModelServer(lambda path, body: recorded("model_not_found")) as server, pytest.raises(DocumentError) as e:
        engine_for(server, model="qwen-typo").extract(invoice["pages"], "invoice", schema)
    assert len(server.posts()) == 1
    assert e.value.code == "model_server_refused" and not e.value.transient
    assert "does not exist" in e.value.message and "qwen-typo" in e.value.hint


def test_a_server_that_is_not_running_is_transient_and_names_the_url(invoice, schema) -> None:
    with FakeModelServer() as server:
        url = server.base_url
    engine = create_engine(
        Config(engine=EngineConfig(name="openai", model=MODEL, options={"base_url": url, **FAST, "max_retries": 1})),
        PIPELINE_CHECKS,
    )
    with pytest.raises(DocumentError) as e:
        engine.extract(invoice["pages"], "invoice", schema)
    assert e.value.code == "model_server_unreachable" and e.value.transient and url in e.value.message


# ---------------------------------------------------------------- keys, limits, images, remote


def test_the_api_key_is_sent_as_a_bearer_token_and_never_shown(invoice, schema, monkeypatch, caplog) -> None:
    secret = "sk-test-0123456789abcdef"
    monkeypatch.setenv("MY_SERVER_KEY", secret)
    caplog.set_level(logging.DEBUG)
    with FakeModelServer() as server:
        server.enqueue(recorded("rate_limited"), Reply(401, {"error": {"message": "bad key"}}))
        engine = engine_for(server, api_key_env="MY_SERVER_KEY")
        with pytest.raises(DocumentError) as e:
            engine.extract(invoice["pages"], "invoice", schema)
    assert all(r.headers.get("Authorization") == f"Bearer {secret}" for r in server.posts())
    assert "MY_SERVER_KEY" in e.value.hint
    shown = json.dumps(engine.describe()) + str(e.value) + e.value.hint + caplog.text
    assert secret not in shown and engine.describe()["api_key"] == "from $MY_SERVER_KEY"


def test_requests_to_one_server_never_exceed_its_concurrency_limit(invoice, schema) -> None:
    with FakeModelServer(latency_s=0.3) as server:
        engine = engine_for(server, preset="vllm", concurrency=2)
        threads = [
            threading.Thread(target=engine.extract, args=(invoice["pages"], "invoice", schema)) for _ in range(6)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(server.posts()) == 6 and server.max_in_flight == 2


def test_page_images_are_re_encoded_within_the_byte_bound(invoice) -> None:
    from ledgerlens.pipeline.engines.openai.images import encode_image
    from PIL import Image

    page = Image.open(invoice["pages"][0].image_path).convert("RGB")
    big = encode_image(page, "png", 85, 10_000_000)
    small = encode_image(page, "jpeg", 85, 40_000)
    assert big.media_type == "image/png" and small.media_type == "image/jpeg"
    assert len(small.data) <= 40_000 < len(big.data)
    assert small.data_url.startswith("data:image/jpeg;base64,")


@pytest.mark.parametrize("url", ["http://10.0.0.7:8000/v1", "https://gpu-box.example:8000/v1", "http://[fd00::1]/v1"])
def test_a_server_on_another_machine_needs_an_explicit_allow_remote(url) -> None:
    spec = {"name": "openai", "model": MODEL, "options": {"base_url": url}}
    with pytest.raises(ConfigError, match=r"not on this machine.*allow_remote = true"):
        create_engine(Config(engine=EngineConfig(**spec)), PIPELINE_CHECKS)
    engine = create_engine(
        Config(engine=EngineConfig(**{**spec, "options": {"base_url": url, "allow_remote": True}})), PIPELINE_CHECKS
    )
    assert engine.describe()["base_url"] == url  # nothing was sent: engines connect per document


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000/v1", "http://localhost:1234/v1", "http://[::1]:8080/v1"])
def test_loopback_servers_need_no_setting(url) -> None:
    engine = create_engine(
        Config(engine=EngineConfig(name="openai", model=MODEL, options={"base_url": url})), PIPELINE_CHECKS
    )
    assert engine.describe()["endpoint"] == f"{url}/chat/completions"


def test_presets_fill_in_base_url_and_style_and_typos_are_errors() -> None:
    ollama = create_engine(
        Config(engine=EngineConfig(name="openai", model="m", options={"preset": "ollama"})), PIPELINE_CHECKS
    )
    assert ollama.describe()["endpoint"] == "http://127.0.0.1:11434/api/chat"
    assert ollama.describe()["concurrency"] == 1
    with pytest.raises(ConfigError, match=r"unknown server preset 'olama'.*ollama"):
        create_engine(
            Config(engine=EngineConfig(name="openai", model="m", options={"preset": "olama"})), PIPELINE_CHECKS
        )
    with pytest.raises(ConfigError, match=r"unknown key\(s\) in \[engine.options\]: base_uri"):
        create_engine(Config(engine=EngineConfig(name="openai", model="m", options={"base_uri": "x"})), PIPELINE_CHECKS)
    with pytest.raises(ConfigError, match=r"--model NAME"):
        create_engine(Config(engine=EngineConfig(name="openai", options={"preset": "vllm"})), PIPELINE_CHECKS)


# ---------------------------------------------------------------- through the whole pipeline


@pytest.mark.prefect
def test_process_with_the_openai_engine_books_the_invoice(invoice, tmp_path) -> None:
    """`ledgerlens process --engine openai --base-url ... --model ...`, a recorded vLLM answer."""
    import shutil

    from ledgerlens.pipeline.books.store import Store

    from ledgerlens.cli import main

    ws = tmp_path / "books"
    assert main(["init", str(ws)]) == 0
    shutil.copy(invoice["folder"] / "invoice_en_gb.pdf", ws / "intake" / "invoice_en_gb.pdf")
    with FakeModelServer() as server:
        args = ["process", str(ws / "intake"), "--engine", "openai", "--base-url", server.base_url]
        assert main([*args, "--model", MODEL, "--preset", "vllm"]) == 0
    (stored,) = Store.for_workspace(ws).all()
    result = stored.result
    assert result.data["total_amount"] == "2612.02" and result.data["iban"] == "GB06XFGS67839180895638"
    assert result.provenance["engine"]["engine"] == "openai"
    assert result.provenance["engine"]["preset"] == "vllm"
    assert {i.code for i in result.issues} == {"low_confidence"}  # the unsure buyer address, for review
    assert (ws / "done" / "invoice_en_gb.pdf").exists()
