"""`make bench-text`: the text route on this CPU: full-size NuExtract-tiny-v1.5 (Qwen2.5-0.5B) and
NuExtract-1.5 (Phi-3.5-mini) architectures reading an A4 invoice page's words, beside Qwen2-VL-2B
int8 reading the same page's image.

No weights are needed or fetched: each model is built from its published dimensions with random
weights (same compute per token as the real one), its tokenizer a synthetic byte-level BPE of the
real vocabulary's size (`bench_vlm.synthetic_tokenizer`). The text model's input is the engine's:
the page's layout text (`read/pagetext.py`) in NuExtract 1.5's prompt (`nuextract-1.5`); the VLM's
is `bench_vlm.py`'s. Each variant is measured by `bench_vlm.measure` (preprocess, time to first
token, decode tokens/s, one schema-constrained answer) and the grammar's own time per token: s/page
= preprocess + TTFT + 300 tokens / decode rate (+ the grammar's time for them).

NuExtract-1.5 in fp32 is 3.8 B x 4 bytes = 15.3 GB of weights: `--phi-fp32` only where that fits
beside everything else; by default it is measured in int8 only, built one decoder layer at a time
and quantized as it goes, so that its fp32 weights are never all in memory. The machine's load
average is recorded: on a shared 2-core machine other work inflates every figure.

    python benchmarks/bench_text.py [--models nuextract-1.5-tiny,nuextract-1.5,qwen2-vl-2b] [--phi-fp32]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_vlm  # noqa: E402  (after the path set-up above)
from ledgerlens.pipeline.engines.transformers.generate import Generator  # noqa: E402

NUEXTRACT_MARKERS = ["<|input|>", "<|output|>", "<|end-output|>"]
SPACE_RUNS = range(16, 1, -1)
# Published dimensions (config.json of Qwen/Qwen2.5-0.5B and microsoft/Phi-3.5-mini-instruct).
QWEN25_05B = dict(
    vocab_size=151_936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
    num_key_value_heads=2, max_position_embeddings=32_768, rms_norm_eps=1e-6, tie_word_embeddings=True,
    rope_theta=1_000_000.0,
)  # fmt: skip
PHI35_MINI = dict(
    vocab_size=32_064, hidden_size=3072, intermediate_size=8192, num_hidden_layers=32, num_attention_heads=32,
    num_key_value_heads=32, max_position_embeddings=131_072, rms_norm_eps=1e-5, tie_word_embeddings=False,
)  # fmt: skip
PHI_REGULAR_TOKENS = 32_000  # Llama's SentencePiece vocabulary, which Phi-3.5 keeps


def text_tokenizer(regular: int) -> Any:
    """bench_vlm's synthetic BPE at `regular` tokens (the last 15 of them runs of 2-16 spaces, as
    both real vocabularies have: layout text is full of them), with NuExtract's markers."""
    from tokenizers import AddedToken

    saved = bench_vlm.QWEN_REGULAR_TOKENS
    bench_vlm.QWEN_REGULAR_TOKENS = regular - len(SPACE_RUNS)
    try:
        tok = bench_vlm.synthetic_tokenizer()
    finally:
        bench_vlm.QWEN_REGULAR_TOKENS = saved
    tok.add_tokens([AddedToken(" " * n, normalized=False) for n in SPACE_RUNS])
    tok.add_special_tokens({"additional_special_tokens": NUEXTRACT_MARKERS})
    tok.chat_template = None  # NuExtract 1.5's prompt is not a chat
    return tok


def text_config(name: str, tok: Any) -> Any:
    from transformers import Phi3Config, Qwen2Config

    ids = {"bos_token_id": tok.convert_tokens_to_ids("<|endoftext|>"), "eos_token_id": tok.eos_token_id,
           "pad_token_id": tok.pad_token_id}  # fmt: skip
    assert len(tok) <= (QWEN25_05B if name == "qwen2" else PHI35_MINI)["vocab_size"], len(tok)
    return Qwen2Config(**QWEN25_05B, **ids) if name == "qwen2" else Phi3Config(**PHI35_MINI, **ids)


def build_text_model(config: Any, int8_by_layer: bool) -> Any:
    """The model with random weights; `int8_by_layer`: built on the meta device, then each decoder
    layer materialised, initialised and quantized (the engine's dynamic int8) before the next."""
    import torch
    from ledgerlens.pipeline.engines.transformers.quantize import quantize_dynamic_int8
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    if not int8_by_layer:
        return AutoModelForCausalLM.from_config(config, dtype=torch.float32).eval()
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    for layer in model.model.layers:
        layer.to_empty(device="cpu")
        _init(layer)
        quantize_dynamic_int8(layer)
    for module in (model.model.embed_tokens, model.model.norm, model.lm_head):
        module.to_empty(device="cpu")
        _init(module)
    quantize_dynamic_int8(model)  # the head (the layers' Linears are quantized already)
    model.model.rotary_emb = type(model.model.rotary_emb)(config=config)  # its buffers, computed on the CPU
    return model.eval()


def _init(module: Any) -> None:
    import torch

    with torch.no_grad():
        for name, p in module.named_parameters():
            if p.dim() > 1:
                p.normal_(0.0, 0.02)
            else:
                p.fill_(1.0 if "norm" in name or name == "weight" else 0.0)


class TextGenerator(Generator):
    """The engine's generator for a text model, with `bench_vlm.measure`'s call shape (images ignored)."""

    def prepare(self, conversation: Any, images: list[Any]) -> Any:
        return super().prepare(conversation, [])


def text_rows(name: str, page: Any, variants: list[str], threads: int, report: dict[str, Any]) -> list[dict[str, Any]]:
    import torch
    from ledgerlens.pipeline.doctypes.schemas import load_schemas
    from ledgerlens.pipeline.engines.model.constrain import model_schema
    from ledgerlens.pipeline.engines.model.prompts import load_prompt, start
    from ledgerlens.pipeline.engines.transformers.loading import LoadedModel
    from ledgerlens.pipeline.engines.transformers.options import TransformersOptions
    from ledgerlens.pipeline.engines.transformers.quantize import quantize_dynamic_int8
    from ledgerlens.pipeline.read.pagetext import render_pages

    family = "qwen2" if name == "nuextract-1.5-tiny" else "phi3"
    tok = text_tokenizer(bench_vlm.QWEN_REGULAR_TOKENS if family == "qwen2" else PHI_REGULAR_TOKENS)
    config = text_config(family, tok)
    config.image_token_id = -1  # bench_vlm.measure counts image tokens: a text model has none
    schema = load_schemas()["invoice"]
    grammar_schema = model_schema(schema.bundled())
    prompt = load_prompt("nuextract-1.5")
    conversation = start(prompt, family, schema, 1, words=render_pages([page]), plain=True)
    options = TransformersOptions(threads=threads)
    rows = []
    model = None
    for variant in variants:
        t0 = time.perf_counter()
        if model is None:
            model = build_text_model(config, int8_by_layer=variant == "int8")
            quant = variant
        elif variant == "int8":
            quantize_dynamic_int8(model)
            quant = "int8"
        built = time.perf_counter() - t0
        gen = TextGenerator(LoadedModel(model, tok, "cpu", "float32", "none", 0.0), options, prompt.stop)
        gen.loaded.quant = quant if quant == "int8" else "none"
        gen.grammar.grammar(grammar_schema)
        with torch.inference_mode():
            row = bench_vlm.measure(f"{name} {variant}", gen, conversation, None, grammar_schema, 32)
        row["build_or_quantize_s"] = round(built, 1)
        _grammar(row, gen, grammar_schema, schema)
        print(json.dumps(row), flush=True)
        rows.append(row)
    del model
    gc.collect()
    report[f"{name}_prompt_chars"] = len(conversation.raw or "")
    return rows


def vlm_row(page: Any, threads: int) -> dict[str, Any]:
    """Qwen2-VL-2B int8 on the same page, as `bench_vlm.py` measures it."""
    from ledgerlens.pipeline.doctypes.schemas import load_schemas
    from ledgerlens.pipeline.engines.model.constrain import model_schema
    from ledgerlens.pipeline.engines.model.images import page_image
    from ledgerlens.pipeline.engines.model.prompts import load_prompt, start
    from ledgerlens.pipeline.engines.transformers.engine import DEFAULT_PROMPT
    from ledgerlens.pipeline.engines.transformers.loading import LoadedModel
    from ledgerlens.pipeline.engines.transformers.options import TransformersOptions
    from ledgerlens.pipeline.engines.transformers.processors import image_only_class
    from ledgerlens.pipeline.engines.transformers.quantize import quantize_dynamic_int8
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil
    from vlm_models import CHAT_TEMPLATE

    max_pixels = 512 * 28 * 28
    tok = bench_vlm.synthetic_tokenizer()
    model = bench_vlm.build_model(tok)
    t0 = time.perf_counter()
    quantize_dynamic_int8(model)
    quantized = time.perf_counter() - t0
    improc = Qwen2VLImageProcessorPil(size={"shortest_edge": 56 * 56, "longest_edge": max_pixels})
    processor = image_only_class("qwen2_vl")(image_processor=improc, tokenizer=tok, chat_template=CHAT_TEMPLATE)
    options = TransformersOptions(max_pixels=max_pixels, threads=threads)
    schema = load_schemas()["invoice"]
    grammar_schema = model_schema(schema.bundled())
    gen = Generator(LoadedModel(model, processor, "cpu", "float32", "int8", 0.0), options)
    gen.grammar.grammar(grammar_schema)
    image = page_image(page, 28, options.min_pixels, max_pixels)
    conversation = start(load_prompt(DEFAULT_PROMPT), "qwen2_vl", schema, 1)
    vision = bench_vlm.VisionClock(model.model.visual)
    row = bench_vlm.measure("qwen2-vl-2b int8", gen, conversation, image, grammar_schema, 32, vision)
    row["build_or_quantize_s"] = round(quantized, 1)
    _grammar(row, gen, grammar_schema, schema)
    print(json.dumps(row), flush=True)
    del model, gen
    gc.collect()
    return row


def _grammar(row: dict[str, Any], gen: Any, grammar_schema: dict[str, Any], schema: Any) -> None:
    row["grammar_ms_per_token"] = round(
        bench_vlm.grammar_ms_per_token(gen, grammar_schema, schema.schema["examples"][0]), 2
    )
    row["s_per_page_constrained"] = round(
        row["s_per_page"] + bench_vlm.OUTPUT_TOKENS * row["grammar_ms_per_token"] / 1000, 1
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="nuextract-1.5-tiny,nuextract-1.5,qwen2-vl-2b")
    parser.add_argument("--phi-fp32", action="store_true", help="also NuExtract-1.5 in fp32 (15 GB of weights)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: physical cores)")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bench-text.json")
    args = parser.parse_args()

    import torch
    from ledgerlens.pipeline.machine import physical_cores

    threads = args.threads or physical_cores()
    torch.set_num_threads(threads)
    models = args.models.split(",")
    report: dict[str, Any] = {
        "threads": threads,
        "output_tokens": bench_vlm.OUTPUT_TOKENS,
        "load_average_start": os.getloadavg(),
    }
    with tempfile.TemporaryDirectory() as tmp:
        page = bench_vlm.invoice_page(Path(tmp))
        rows = []
        if "nuextract-1.5-tiny" in models:
            rows += text_rows("nuextract-1.5-tiny", page, ["fp32", "int8"], threads, report)
        if "nuextract-1.5" in models:
            rows += text_rows("nuextract-1.5", page, ["fp32", "int8"] if args.phi_fp32 else ["int8"], threads, report)
        if "qwen2-vl-2b" in models:
            rows.append(vlm_row(page, threads))
    report["results"] = rows
    report["load_average_end"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(table(rows))
    print(f"load average {report['load_average_start']} at the start, {report['load_average_end']} at the end")
    print(f"report: {args.out}")
    return 0


COLUMNS = ("variant", "prompt_tokens", "ttft_s", "decode_tok_s", "s_per_page", "grammar_ms_per_token",
           "s_per_page_constrained", "rss_gb")  # fmt: skip


def table(rows: list[dict[str, Any]]) -> str:
    """The results as the README's markdown table."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(str(r[c]) for c in COLUMNS) + " |" for r in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
