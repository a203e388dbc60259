"""One-shot check of the transformers engine on a CUDA machine (not part of CI: CI has no GPU).

Builds the tiny random Qwen2-VL of the tests, then through the engine itself: loads it on CUDA
with no quantization, bitsandbytes 8-bit and 4-bit (nf4), with and without a LoRA adapter, reads a
page, and reports what was applied (quantizer, layer classes, serialized size), whether the JSON is
schema-valid, the stock Qwen processor (torchvision present there) and doctor's GPU advice.

    python benchmarks/gpu_check.py OUT_DIR
"""

from __future__ import annotations

import json
import shutil
import sys
import time
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def page(folder: Path) -> Any:
    from ledgerlens.pipeline.types import Page, Word
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (620, 877), "white")
    draw = ImageDraw.Draw(img)
    lines = ["INVOICE INV-0042", "Date 2025-03-03", "Total 1234.56 EUR"]
    words = []
    for n, line in enumerate(lines):
        draw.text((40, 40 + 30 * n), line, fill="black")
        x = 40.0
        for token in line.split():
            words.append(Word(token, (x, 40.0 + 30 * n, x + 8 * len(token), 52.0 + 30 * n), 1.0, n))
            x += 8 * len(token) + 6
    path = folder / "page.png"
    img.save(path)
    return Page(0, 620, 877, words, "ocr", path, 72)


def adapter(model_dir: Path, out: Path) -> Path:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForImageTextToText

    torch.manual_seed(1)
    base = AutoModelForImageTextToText.from_pretrained(model_dir)
    config = LoraConfig(r=4, target_modules=r".*language_model.*\.(q_proj|v_proj)", init_lora_weights=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        get_peft_model(base, config).save_pretrained(out)
    return out


def run(name: str, model_dir: Path, the_page: Any, **spec: Any) -> dict[str, Any]:
    import torch
    from ledgerlens.pipeline.check.answers import PIPELINE_CHECKS
    from ledgerlens.pipeline.config import Config, EngineConfig
    from ledgerlens.pipeline.doctypes.schemas import load_schemas
    from ledgerlens.pipeline.engines import create_engine

    options = {"device": "cuda", "max_pixels": 448 * 448, "max_new_tokens": 128, **spec.pop("options", {})}
    row: dict[str, Any] = {"case": name}
    try:
        t0 = time.perf_counter()
        spec_config = EngineConfig(name="transformers", model=str(model_dir), options=options, **spec)
        engine = create_engine(Config(engine=spec_config), PIPELINE_CHECKS)
        row["load_s"] = round(time.perf_counter() - t0, 2)
        schema = load_schemas()["invoice"]
        t0 = time.perf_counter()
        out = engine.extract([the_page], "invoice", schema)
        row["extract_s"] = round(time.perf_counter() - t0, 2)
        info = out.model_info
        row |= {
            "device": info["device"],
            "dtype": info["dtype"],
            "quantization": info["quantization"],
            "processor": type(engine.loaded.processor).__name__,
            "adapter": (info["document"]["adapter"] or {}).get("sha256", "")[:12] or None,
            "new_tokens": info["document"]["new_tokens"],
            "schema_valid": schema.errors(out.data) == [],
            "cuda_mem_allocated_mb": round(torch.cuda.memory_allocated() / 2**20, 1),
            "ok": True,
        }
    except Exception as e:  # a check script: report every failure and go on with the next case
        row |= {"ok": False, "error": f"{type(e).__name__}: {e}"[:600]}
    print(json.dumps(row), flush=True)
    return row


def main() -> int:
    out_dir = Path(sys.argv[1] if len(sys.argv) > 1 else "build/gpu-check")
    out_dir.mkdir(parents=True, exist_ok=True)
    import torch
    import transformers
    from vlm_models import build_tiny_model

    report: dict[str, Any] = {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "cuda": torch.cuda.is_available(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    try:
        import bitsandbytes

        report["bitsandbytes"] = bitsandbytes.__version__
    except Exception as e:
        report["bitsandbytes"] = f"unavailable: {e}"
    print(json.dumps(report), flush=True)
    work = Path("/tmp/ledgerlens-gpu-check")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    model_dir = build_tiny_model("qwen2_vl", work / "tiny")
    stock = work / "stock"
    shutil.copytree(model_dir, stock)
    cfg = json.loads((stock / "processor_config.json").read_text())
    cfg["processor_class"] = "Qwen2VLProcessor"
    (stock / "processor_config.json").write_text(json.dumps(cfg))
    lora = adapter(model_dir, work / "adapter")
    the_page = page(work)
    rows = [
        run("none", model_dir, the_page),
        run("8bit", model_dir, the_page, options={"quantization": "8bit"}),
        run("4bit", model_dir, the_page, options={"quantization": "4bit"}),
        run("4bit+lora", model_dir, the_page, options={"quantization": "4bit"}, adapter=str(lora)),
        run("stock-processor", stock, the_page),
        run("int8-on-cuda-refused", model_dir, the_page, options={"quantization": "int8"}),
    ]
    try:
        from ledgerlens.pipeline.engines.transformers.doctor import probe, recommend
        from ledgerlens.pipeline.engines.transformers.registry import load_registry

        machine = probe()
        rec = recommend(machine, load_registry())
        report["doctor"] = {"gpus": [vars(g) for g in machine.gpus], "recommend": vars(rec), "command": rec.command()}
    except Exception as e:  # doctor imports the whole pipeline (pdf libraries), not all carried here
        report["doctor"] = {"error": f"{type(e).__name__}: {e}"}
    report["cases"] = rows
    (out_dir / "gpu_check.json").write_text(json.dumps(report, indent=2, default=str))
    print(json.dumps(report["doctor"], default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
