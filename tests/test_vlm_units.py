"""The transformers engine's parts that need no model: registry, options, prompts, grounding,
decoding, merging, page sizes, adapter choice, doctor's advice, and the CLI around them."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
from ledgerlens.pipeline.check.grounding import ground, groundable
from ledgerlens.pipeline.config import Config, EngineConfig, parse_config
from ledgerlens.pipeline.doctypes.schemas import load_schemas
from ledgerlens.pipeline.engines.model.constrain import DATE_PATTERN, model_schema
from ledgerlens.pipeline.engines.model.decode import Generation, field_confidence, parse_json, top_level_spans
from ledgerlens.pipeline.engines.model.images import smart_resize
from ledgerlens.pipeline.engines.model.merge import PageReading, merge_readings
from ledgerlens.pipeline.engines.model.prompts import field_list, load_prompt, nuextract_template, reask_text, start
from ledgerlens.pipeline.engines.transformers.adapters import AdapterRules, adapter_hash, check_folder
from ledgerlens.pipeline.engines.transformers.doctor import Gpu, Machine, recommend
from ledgerlens.pipeline.engines.transformers.options import TransformersOptions
from ledgerlens.pipeline.engines.transformers.registry import load_registry, resolve_model
from ledgerlens.pipeline.errors import ConfigError
from ledgerlens.pipeline.types import Page, Word

from ledgerlens.cli import main


@pytest.fixture(scope="module")
def invoice():
    return load_schemas()["invoice"]


# ---------------------------------------------------------------- registry


def test_registry_lists_the_issue_models_with_license_and_vram() -> None:
    reg = load_registry()
    for mid in ("qwen2-vl-2b", "qwen2-vl-7b", "qwen2.5-vl-3b", "qwen2.5-vl-7b", "phi-3.5-vision", "nuextract-2.0-2b"):
        assert mid in reg.models
    assert "not Apache" in reg.models["qwen2.5-vl-3b"].license
    assert reg.models["nuextract-2.0-8b"].prompt == "nuextract-2"
    assert reg.models["phi-3.5-vision"].trust_remote_code
    # params x bytes x (1 + overhead) + fixed overhead: 2.21 B at fp16 = 4.42 GB weights -> 6.3 GB
    assert reg.vram_gb(reg.models["qwen2-vl-2b"]) == {"fp16": 6.3, "int8": 3.7, "int4": 2.3}
    for entry in reg.models.values():
        vram = reg.vram_gb(entry)
        assert vram["fp16"] > vram["int8"] > vram["int4"] > 0
        load_prompt(entry.prompt)  # every default prompt version exists


def test_the_engine_check_finds_a_missing_adapter_without_loading_the_model(tmp_path) -> None:
    from ledgerlens.pipeline.engines import check_engine

    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text('{"model_type": "qwen2_vl"}')  # resolves; would not load
    engine = EngineConfig(name="transformers", model=str(model), adapters={"invoice": str(tmp_path / "gone")})
    with pytest.raises(ConfigError, match=r"LoRA adapter .*gone not found"):
        check_engine(replace(Config(), engine=engine))
    check_engine(replace(Config(), engine=replace(engine, adapters={})))  # the folder is enough to pass


def test_a_missing_registry_model_names_the_cache_and_the_pull_command(tmp_path, monkeypatch) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(ConfigError) as e:
        resolve_model("qwen2.5-vl-3b")
    message = str(e.value)
    assert "Qwen/Qwen2.5-VL-3B-Instruct" in message
    assert "ledgerlens models pull qwen2.5-vl-3b" in message
    assert "not on this machine" in message


def test_an_unknown_model_name_lists_the_registry_ids() -> None:
    with pytest.raises(ConfigError, match=r"neither a folder nor a registry id; known ids: .*qwen2-vl-2b"):
        resolve_model("qwen-vl-huge")
    with pytest.raises(ConfigError, match=r"needs a model"):
        resolve_model("")


def test_a_local_folder_is_a_model_without_a_registry_entry(tmp_path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "qwen2_vl"}), encoding="utf-8")
    resolved = resolve_model(str(tmp_path))
    assert resolved.path == tmp_path.resolve() and resolved.family == "qwen2_vl" and resolved.entry is None


# ---------------------------------------------------------------- configuration


def test_engine_spec_and_options_are_typed_and_typos_are_errors() -> None:
    cfg = parse_config(
        {
            "engine": {
                "name": "transformers",
                "model": "qwen2-vl-2b",
                "revision": "main",
                "prompt_version": "extract-v1",
                "adapter": "models/adapters/default",
                "adapters": {"invoice": "a", "vendor:ACME GmbH": "b"},
                "options": {"device": "cpu", "quantization": "int8", "max_pixels": 401408},
            }
        }
    )
    assert cfg.engine.revision == "main" and cfg.engine.adapters["invoice"] == "a"
    opts = TransformersOptions.parse(cfg.engine.options)
    assert opts.quantization == "int8" and opts.max_pixels == 401408 and opts.max_new_tokens == 1024
    with pytest.raises(ConfigError, match=r"unknown key\(s\) in \[engine.options\]: quantisation"):
        TransformersOptions.parse({"quantisation": "int8"})
    with pytest.raises(ConfigError, match=r"quantization must be one of"):
        TransformersOptions.parse({"quantization": "int4"})
    with pytest.raises(ConfigError, match=r"device must be"):
        TransformersOptions.parse({"device": "gpu"})
    with pytest.raises(ConfigError, match=r"max_new_tokens"):
        TransformersOptions.parse({"max_new_tokens": 4})


def test_a_config_survives_the_trip_through_a_served_flows_json_parameters() -> None:
    """`watch` hands its one Config to the served flow as plain data: nothing is lost or re-read."""
    config = Config(engine=EngineConfig(name="transformers", model="m", adapters={"invoice": "/a"}, options={"x": 1}))
    config = replace(config, pipeline=replace(config.pipeline, ocr_languages=("eng", "deu"), dpi=300))
    assert parse_config(json.loads(json.dumps(config.to_dict()))) == config


# ---------------------------------------------------------------- prompts


def test_instruction_prompt_names_every_field_with_its_format(invoice) -> None:
    fields = field_list(invoice)
    for name in ("invoice_number", "date (YYYY-MM-DD)", "total_amount (amount)", "iban (IBAN)"):
        assert name in fields
    assert "line_items (list of: description, quantity (number)" in fields
    conv = start(load_prompt("extract-v1"), "qwen2_vl", invoice, 2)
    user = conv.messages[-1]["content"]
    assert [c["type"] for c in user] == ["image", "image", "text"]
    assert "2 page(s)" in user[-1]["text"]


def test_the_short_prompt_names_every_field_in_fewer_words(invoice) -> None:
    def user_text(version: str) -> str:
        return start(load_prompt(version), "qwen2_vl", invoice, 1).messages[-1]["content"][-1]["text"]

    short, long = user_text("extract-v2"), user_text("extract-v1")
    assert len(short) < 0.75 * len(long)  # every prompt token is prefill time on a CPU
    for name in invoice.field_kinds:
        assert name.rpartition(".")[2] in short
    assert "date (YYYY-MM-DD)" not in short and "YYYY-MM-DD" in short  # said once, in the rules
    assert "line_items (list of: description, quantity, unit" in short


def test_nuextract_prompt_is_a_typed_json_template(invoice) -> None:
    template = json.loads(nuextract_template(invoice))
    assert template["total_amount"] == "number"
    assert template["date"] == "date-time"
    assert template["vendor_name"] == "verbatim-string"
    assert template["document_subtype"] == ["invoice", "credit_note", "corrected_invoice", "prepayment_invoice"]
    assert template["line_items"][0]["description"] == "verbatim-string"
    conv = start(load_prompt("nuextract-2"), "qwen2_vl", invoice, 1)
    assert conv.messages[0]["role"] == "user"  # no instructions, no system line
    text = conv.messages[0]["content"][0]["text"]
    assert text.startswith("# Template:\n{") and text.endswith("# Context:\n")


def test_phi_takes_images_as_numbered_placeholders(invoice) -> None:
    conv = start(load_prompt("extract-v1"), "phi3_v", invoice, 2)
    assert conv.messages[-1]["content"].startswith("<|image_1|>\n<|image_2|>\n")


def test_reask_continues_the_conversation_with_the_problems(invoice) -> None:
    prompt = load_prompt("extract-v1")
    conv = start(prompt, "qwen2_vl", invoice, 1)
    conv.add_reask('{"total_amount":"1"}', reask_text(prompt, invoice, ["net 1 + tax 1 = 2, but the total reads 1"]))
    assert [m["role"] for m in conv.messages] == ["system", "user", "assistant", "user"]
    assert "- net 1 + tax 1 = 2" in conv.messages[-1]["content"][0]["text"]


def test_an_unknown_prompt_version_lists_the_known_ones() -> None:
    known = r"known: extract-text-v1, extract-v1, extract-v2, nuextract-1\.5, nuextract-2"
    with pytest.raises(ConfigError, match=rf"unknown prompt version 'v9'; {known}"):
        load_prompt("v9")


# ---------------------------------------------------------------- constraints and decoding


def test_model_schema_dates_are_calendar_exact(invoice) -> None:
    schema = model_schema(invoice.bundled())
    assert "format" not in json.dumps(schema["properties"]["date"])
    date = re.compile(DATE_PATTERN)
    for good in ("2024-02-29", "2000-02-29", "2025-12-31", "2025-04-30"):
        assert date.match(good), good
    for bad in ("2023-02-29", "1900-02-29", "2025-04-31", "2025-13-01", "2025-00-10", "2025-02-30", "7234-01-23"):
        assert not date.match(bad), bad


def test_value_spans_and_confidence_count_only_value_tokens() -> None:
    text = '{"invoice_number":"A-1","total_amount":"12.50","line_items":[{"description":"x"}]}'
    spans = top_level_spans(text)
    assert text[slice(*spans["total_amount"])] == '"12.50"'
    assert text[slice(*spans["line_items"])] == '[{"description":"x"}]'
    # one token per character; the digits of the total are unsure (p = 0.5), everything else sure
    pieces = [c.encode() for c in text]
    start, end = spans["total_amount"]
    logprobs = [(-0.6931 if start < i < end - 1 else 0.0) for i in range(len(text))]
    gen = Generation(text, list(range(len(text))), pieces, logprobs, 10, 0.1)
    conf = field_confidence(gen)
    assert conf["total_amount"] == pytest.approx(0.5, abs=1e-3)
    assert conf["invoice_number"] == 1.0


def test_parse_json_refuses_non_objects_and_non_finite_numbers() -> None:
    assert parse_json('{"a": "1"}') == ({"a": "1"}, None)
    assert "not valid JSON" in parse_json('{"a": ')[1]
    assert "not an object" in parse_json("[1]")[1]
    assert "out of range" in parse_json('{"total": 7e0300000}')[1]  # parses as inf


# ---------------------------------------------------------------- grounding


def _page(index: int, lines: list[str]) -> Page:
    words = []
    for n, line in enumerate(lines):
        x = 0.0
        for token in line.split():
            words.append(Word(token, (x, n * 20.0, x + 10 * len(token), n * 20.0 + 12), 0.9, n))
            x += 10 * len(token) + 8
    return Page(index, 1000, 1000, words, "ocr")


def test_grounding_finds_values_by_meaning_and_flags_what_is_not_printed(invoice) -> None:
    pages = [
        _page(0, ["Rechnung Nr. RE-2025/042 vom 3. März 2025", "IBAN DE89 3704 0044 0532 0130 00"]),
        _page(1, ["Gesamtbetrag 1.234,56 €", "Netto 1 037,44"]),
    ]
    data = {
        "invoice_number": "RE-2025/042",
        "date": "2025-03-03",
        "iban": "DE89370400440532013000",
        "total_amount": "1234.56",
        "net_amount": "1037.44",
        "tax_amount": "197.12",  # not printed anywhere
        "vendor_name": "Nowhere GmbH",  # free text: not checked
        "line_items": [{"description": "x", "amount": "1037.44"}, {"description": "y", "amount": "5.00"}],
    }
    found = ground(data, invoice.field_kinds, pages)
    assert found["total_amount"].page == 2 and "1.234,56" in found["total_amount"].text
    assert found["date"].page == 1 and found["iban"].page == 1 and found["invoice_number"].page == 1
    assert found["net_amount"] is not None  # "1 037,44": grouped with a space, two words
    assert found["tax_amount"] is None and found["line_items[1].amount"] is None
    assert found["line_items[0].amount"] is not None
    assert "vendor_name" not in found
    assert groundable("order_number", "short_text") and not groundable("vendor_name", "text")


# ---------------------------------------------------------------- multi-page merge, page size


def test_per_page_readings_merge_lists_and_keep_the_surest_single_value() -> None:
    kinds = {"total_amount": "amount", "invoice_number": "short_text", "line_items": "list"}
    merged = merge_readings(
        [
            PageReading([0], {"invoice_number": "A1", "total_amount": "9.00", "line_items": [{"d": 1}]},
                        {"invoice_number": 0.9, "total_amount": 0.2, "line_items": 0.8}),
            PageReading([1], {"total_amount": "10.00", "line_items": [{"d": 2}]},
                        {"total_amount": 0.95, "line_items": 0.6}),
        ],
        kinds,
    )  # fmt: skip
    assert merged.data == {"invoice_number": "A1", "total_amount": "10.00", "line_items": [{"d": 1}, {"d": 2}]}
    assert merged.page == {"invoice_number": 1, "total_amount": 2, "line_items": 1}
    assert merged.confidence["line_items"] == 0.6


def test_page_images_are_sized_in_patch_multiples_within_the_pixel_bounds() -> None:
    h, w = smart_resize(2339, 1654, 28, 56 * 56, 512 * 28 * 28)  # A4 at 200 DPI
    assert h % 28 == 0 and w % 28 == 0 and h * w <= 512 * 28 * 28
    assert abs(h / w - 2339 / 1654) < 0.05
    assert smart_resize(20, 20, 28, 56 * 56, 10**6) == (56, 56)  # tiny images grow to the minimum


def _page_with_print(rows: list[tuple[int, int]], size: tuple[int, int] = (400, 560)):
    from PIL import Image, ImageDraw

    img = Image.new("RGB", size, (250, 250, 248))  # off-white paper
    draw = ImageDraw.Draw(img)
    for top, bottom in rows:
        draw.rectangle((60, top, 340, bottom), fill=(20, 20, 20))
    return img


def _dark(img) -> int:
    return sum(1 for v in img.convert("L").getdata() if v < 128)


def test_trimming_cuts_blank_paper_and_keeps_every_printed_pixel() -> None:
    from ledgerlens.pipeline.engines.model.images import BLANK_BAND, trim_blank

    page = _page_with_print([(40, 60), (70, 120), (530, 540)])  # a short invoice and its footer
    page.putpixel((380, 300), (0, 0, 0))  # a speck of dust in the blank band
    trimmed = trim_blank(page)
    assert _dark(trimmed) == _dark(page) - 1  # all print kept; the speck is not print
    assert trimmed.width < 300 and trimmed.height < 220  # margins cut, the blank band shortened
    gap = round(BLANK_BAND * page.height)
    assert trimmed.height >= (60 - 40) + (120 - 70) + (540 - 530) + gap  # short gaps and one band remain
    blank = _page_with_print([])
    assert trim_blank(blank) is blank  # nothing printed: the page as it was
    edge_to_edge = _page_with_print([(0, 559)], size=(400, 560))
    assert trim_blank(edge_to_edge).height == 560  # no blank band to cut


def test_trimmed_pages_give_the_print_more_pixels_for_the_same_budget(tmp_path) -> None:
    from ledgerlens.pipeline.engines.model.images import page_image

    path = tmp_path / "page.png"
    _page_with_print([(40, 60), (70, 120), (530, 540)]).save(path)
    page = Page(0, 400, 560, [], "none", path, 200)
    full = page_image(page, 28, 56 * 56, 200 * 200, trim=False)
    trimmed = page_image(page, 28, 56 * 56, 200 * 200)
    assert full.width * full.height <= 200 * 200 and trimmed.width * trimmed.height <= 200 * 200
    assert _dark(trimmed) > 2 * _dark(full)  # the same print, drawn larger


# ---------------------------------------------------------------- adapters


def test_adapters_are_chosen_by_vendor_on_the_page_then_type_then_default(tmp_path) -> None:
    rules = AdapterRules.parse("default", {"invoice": "inv", "vendor:ACME Supplies GmbH": "acme"})
    assert rules.choose("invoice", "Rechnung\nAcme  Supplies GmbH\nHauptstr. 1") == "acme"
    assert rules.choose("invoice", "Other vendor") == "inv"
    assert rules.choose("receipt", "Other vendor") == "default"
    assert AdapterRules.parse("", {}).choose("invoice", "x") == ""
    with pytest.raises(ConfigError, match="must be an adapter folder"):
        AdapterRules.parse("", {"invoice": 3})
    with pytest.raises(ConfigError, match=r"adapter_config\.json"):
        check_folder(tmp_path)


def test_adapter_hash_follows_the_content(tmp_path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    for folder, weights in ((a, b"\x01"), (b, b"\x02")):
        folder.mkdir()
        (folder / "adapter_config.json").write_text("{}", encoding="utf-8")
        (folder / "adapter_model.safetensors").write_bytes(weights)
    assert adapter_hash(a) != adapter_hash(b)
    assert re.fullmatch(r"[0-9a-f]{64}", adapter_hash(a))
    (b / "adapter_model.safetensors").write_bytes(b"\x01")
    assert adapter_hash(a) == adapter_hash(b)


# ---------------------------------------------------------------- doctor


def _machine(gpus: list[Gpu], ram: float = 22.0, cores: int = 2) -> Machine:
    return Machine(gpus, cores, cores, ram + 1, ram, "2.13.0")


def test_doctor_recommends_int8_on_the_smallest_model_without_a_gpu() -> None:
    rec = recommend(_machine([]), load_registry())
    assert rec.engine == "transformers" and rec.quant == "int8" and rec.device == "cpu"
    assert load_registry().models[rec.model].params_b < 3
    assert rec.options["threads"] == 2 and rec.options["dtype"] == "float32"
    assert "--quant int8" in rec.command()


def test_doctor_falls_back_to_ocr_when_ram_is_short() -> None:
    rec = recommend(_machine([], ram=4.0), load_registry())
    assert rec.engine == "ocr" and rec.model is None


@pytest.mark.parametrize(
    ("free_gb", "model", "quant"),
    [
        (80.0, "qwen2.5-vl-7b", "none"),
        (16.0, "qwen2.5-vl-7b", "8bit"),
        (8.0, "qwen2.5-vl-7b", "4bit"),
        (4.0, "qwen2-vl-2b", "4bit"),  # qwen2.5-vl-3b would fit, but its license is non-commercial
    ],
)
def test_doctor_picks_the_largest_model_that_fits_the_free_vram(free_gb, model, quant) -> None:
    rec = recommend(_machine([Gpu(0, "GPU", free_gb, free_gb)]), load_registry())
    assert (rec.model, rec.quant, rec.device) == (model, quant, "cuda:0")


def test_doctor_command_prints_a_cpu_recommendation(capsys) -> None:
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "physical cores" in out and "RAM" in out
    assert "Recommended:" in out and "int8" in out
    assert "qwen2-vl-2b" in out


def test_models_list_shows_ids_licenses_and_vram(capsys) -> None:
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "Qwen/Qwen2.5-VL-3B-Instruct" in out and "numind/NuExtract-2.0-2B" in out and "MIT" in out


def test_models_pull_without_a_network_is_a_clear_error(capsys, tmp_path, monkeypatch) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # `pull` lifts it for its own process; restored after the test
    assert main(["models", "pull", "qwen2-vl-2b"]) == 2
    err = capsys.readouterr().err
    assert "could not download Qwen/Qwen2-VL-2B-Instruct" in err and "internet" in err


def test_process_takes_engine_model_quant_and_adapter_flags(tmp_path: Path) -> None:
    from ledgerlens.cli import build_parser
    from ledgerlens.commands.common import with_engine_args

    adapter = tmp_path / "acme"
    args = build_parser().parse_args(
        [
            "process",
            "x",
            "--engine",
            "transformers",
            "--model",
            "qwen2-vl-2b",
            "--quant",
            "int8",
            "--adapter",
            str(adapter),
        ]
    )
    engine = with_engine_args(Config(), args).engine
    assert (engine.name, engine.model, engine.options["quantization"], engine.adapter) == (
        "transformers", "qwen2-vl-2b", "int8", str(adapter.resolve())
    )  # fmt: skip


def test_the_engine_modules_import_without_torch_or_transformers() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import ledgerlens.pipeline.engines.transformers.engine\n"
        "import ledgerlens.commands.models, ledgerlens.commands.doctor\n"
        "print([m for m in ('torch', 'transformers', 'peft', 'llguidance') if m in sys.modules])\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_without_the_vlm_extra_the_engine_says_what_to_install(monkeypatch) -> None:
    import importlib.util

    from ledgerlens.pipeline.engines.transformers.loading import require_extra

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
    with pytest.raises(ConfigError, match=r"needs torch: install the `vlm` extra"):
        require_extra()
