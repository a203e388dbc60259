"""`make bench-train`: what training a LoRA adapter costs on this machine.

    python benchmarks/bench_train.py tiny [--steps N]            # the whole `train` on a tiny model
    python benchmarks/bench_train.py full [--steps N] [--qlora]   # Qwen2-VL-2B's architecture, random weights

`tiny`: `pipeline.train.run.train` end to end (examples read as the engine reads them, LoRA, the
Trainer) on the tiny random Qwen2-VL of the tests and four generated invoices: steps/s and the
process's peak RSS.

`full`: one LoRA step at full size, without weights: the model is built from Qwen2-VL-2B-Instruct's
published dimensions (as `bench_vlm.py` does) with a synthetic tokenizer of Qwen's size; the sample
is an A4 page (max_pixels 512*28*28) with the invoice schema's example answer, built by the
training code itself (`inputs.model_inputs`, the collator, `lora.attach_lora`,
`lora.training_arguments`, transformers' Trainer). Reports the time of each step (the first
includes warm-up), steps/s and peak memory (RSS on CPU; `torch.cuda.max_memory_allocated` on CUDA).
With `--qlora` (CUDA, bitsandbytes) the random model is saved in bf16 and loaded back in 4 bits by
the engine's loader, as `train --qlora` loads a real one. The machine's load average is recorded:
on a shared machine other work inflates every timing.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))
INVOICES = ["invoice_en_gb", "invoice_en_us", "invoice_de", "invoice_fr"]
FIELDS = ("invoice_number", "date", "total_amount")


def peak_rss_gb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)


class StepTimer:
    """Trainer callback (duck-typed): the wall time of each optimizer step."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self._start = 0.0

    def on_step_begin(self, *args: Any, **kwargs: Any) -> None:
        self._start = time.perf_counter()

    def on_step_end(self, *args: Any, **kwargs: Any) -> None:
        self.times.append(round(time.perf_counter() - self._start, 2))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("on_"):
            return lambda *a, **k: None
        raise AttributeError(name)


def tiny(steps: int, work: Path) -> dict[str, Any]:
    from fixtures.generate import generate
    from ledgerlens.pipeline.config import Config, EngineConfig
    from ledgerlens.pipeline.doctypes.schemas import load_schemas
    from ledgerlens.pipeline.train.request import TrainRequest
    from ledgerlens.pipeline.train.run import train
    from vlm_models import build_tiny_model

    model = build_tiny_model("qwen2_vl", work / "model")
    generate(work / "gen", seed=0, scans=False, only=INVOICES)
    examples = work / "examples"
    examples.mkdir()
    for name in INVOICES:
        gt = json.loads((work / "gen" / f"{name}.gt.json").read_text())
        fields = {**gt["fields"], **gt["fields_normalized"]}
        shutil.copy(work / "gen" / f"{name}.pdf", examples / f"{name}.pdf")
        label = {"doc_type": "invoice", "fields": {k: fields[k] for k in FIELDS}}
        (examples / f"{name}.pdf.json").write_text(json.dumps(label))
    options = {"max_pixels": 448 * 448, "max_new_tokens": 128, "max_reasks": 0}
    config = Config(engine=EngineConfig(name="transformers", model=str(model), options=options))
    request = TrainRequest(examples=(examples,), out=work / "adapter", steps=steps, grad_accum=1,
                           validation_split=0.0, force=True)  # fmt: skip
    rss_before = peak_rss_gb()
    outcome = train(request, config, load_schemas(), say=lambda line: None)
    record = outcome.record
    return {
        "model": "tiny random Qwen2-VL (tests/vlm_models.py)",
        "steps": record["steps"],
        "train_seconds": record["train_seconds"],
        "steps_per_s": round(record["steps"] / record["train_seconds"], 2),
        "run_seconds": record["seconds"],
        "loss": {"first": record["loss"]["first"], "last": record["loss"]["last"]},
        "peak_rss_gb": peak_rss_gb(),
        "peak_rss_gb_before_training": rss_before,
        "device": record["device"],
    }


def full_model(qlora: bool, work: Path, max_pixels: int, small: bool) -> tuple[Any, Any]:
    """The 2B architecture with random weights (`small`: the tests' tiny one): (LoadedModel, processor)."""
    import torch
    from bench_vlm import build_model, synthetic_tokenizer
    from ledgerlens.pipeline.engines.transformers.loading import LoadedModel, load
    from ledgerlens.pipeline.engines.transformers.options import TransformersOptions
    from ledgerlens.pipeline.engines.transformers.processors import image_only_class
    from ledgerlens.pipeline.engines.transformers.registry import resolve_model
    from transformers import AutoModelForImageTextToText
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil
    from vlm_models import CHAT_TEMPLATE, build_config, build_tokenizer

    tok = build_tokenizer() if small else synthetic_tokenizer()
    improc = Qwen2VLImageProcessorPil(size={"shortest_edge": 56 * 56, "longest_edge": max_pixels})
    processor = image_only_class("qwen2_vl")(image_processor=improc, tokenizer=tok, chat_template=CHAT_TEMPLATE)
    model = AutoModelForImageTextToText.from_config(build_config("qwen2_vl", tok)) if small else build_model(tok)
    if not qlora:
        return LoadedModel(model, processor, "cpu", "float32", "none", 0.0), processor
    folder = work / "qwen2-vl-2b-random"
    model.to(torch.bfloat16).save_pretrained(folder)  # then loaded back in 4 bits, as a real model is
    processor.save_pretrained(folder)
    del model
    options = TransformersOptions(device="cuda", quantization="4bit", max_pixels=max_pixels)
    loaded = load(resolve_model(str(folder)), options)
    return loaded, loaded.processor


def full(steps: int, qlora: bool, max_pixels: int, work: Path, small: bool = False) -> dict[str, Any]:
    import dataclasses

    import torch
    from bench_vlm import drawn_page
    from ledgerlens.pipeline.doctypes.schemas import load_schemas
    from ledgerlens.pipeline.engines.model.constrain import canonical_answer, model_schema
    from ledgerlens.pipeline.engines.model.images import page_image
    from ledgerlens.pipeline.engines.model.prompts import load_prompt, start
    from ledgerlens.pipeline.engines.transformers.inputs import model_inputs
    from ledgerlens.pipeline.train.data import Collator
    from ledgerlens.pipeline.train.lora import attach_lora, training_arguments
    from ledgerlens.pipeline.train.request import TrainRequest
    from transformers import Trainer
    from transformers.trainer_callback import PrinterCallback

    started = time.perf_counter()
    loaded, processor = full_model(qlora, work, max_pixels, small)
    built = time.perf_counter() - started
    schema = load_schemas()["invoice"]
    conversation = start(load_prompt("extract-v1"), "qwen2_vl", schema, 1)
    image = page_image(drawn_page(work), 28, 56 * 56, max_pixels)
    answer = canonical_answer(schema.schema["examples"][0], model_schema(schema.bundled()))
    item = dict(model_inputs(processor, conversation, [image], answer=answer))
    request = TrainRequest(examples=(work,), out=work / "adapter", steps=steps, grad_accum=1, qlora=qlora)
    model = attach_lora(loaded.model, request)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    args = dataclasses.replace(training_arguments(request, loaded, steps, work / "ckpt"), save_strategy="no")
    timer = StepTimer()
    trainer = Trainer(model=model, args=args, train_dataset=[item] * steps,
                      data_collator=Collator(int(processor.tokenizer.pad_token_id)), callbacks=[timer])  # fmt: skip
    trainer.remove_callback(PrinterCallback)
    if loaded.device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    trainer.train()
    measured = timer.times[1:] or timer.times
    row: dict[str, Any] = {
        "model": "tiny (--small: a check of the script)"
        if small
        else "Qwen2-VL-2B-Instruct architecture, random weights",
        "qlora": qlora,
        "device": loaded.device,
        "dtype": loaded.dtype,
        "build_or_load_s": round(built, 1),
        "sequence_tokens": int(item["input_ids"].shape[1]),
        "answer_tokens": int((item["labels"] != -100).sum()),
        "trainable_params_m": round(trainable / 1e6, 2),
        "step_s": timer.times,
        "steps_per_s": round(len(measured) / sum(measured), 4),
        "peak_rss_gb": peak_rss_gb(),
    }
    if loaded.device.startswith("cuda"):
        row["peak_gpu_gb"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
        row["gpu"] = torch.cuda.get_device_name(0)
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("what", choices=("tiny", "full"))
    parser.add_argument("--steps", type=int, default=0, help="default: 20 (tiny), 2 (full)")
    parser.add_argument("--qlora", action="store_true", help="full: 4-bit base via bitsandbytes (CUDA)")
    parser.add_argument("--max-pixels", type=int, default=512 * 28 * 28)
    parser.add_argument("--small", action="store_true", help="full: the tests' tiny architecture (checks the script)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads on CPU (default: physical cores)")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bench-train.json")
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="ledgerlens-bench-train-") as tmp:
        if args.what == "tiny":
            row = tiny(args.steps or 20, Path(tmp))
        else:
            row = full(args.steps or 2, args.qlora, args.max_pixels, Path(tmp), args.small)
    row["threads"] = torch.get_num_threads()
    row["load_average"] = os.getloadavg()
    print(json.dumps(row, indent=2))
    report = json.loads(args.out.read_text()) if args.out.is_file() else {}
    report[args.what + ("-qlora" if args.qlora else "") + ("-small" if args.small else "")] = row
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"report: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
