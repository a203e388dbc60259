"""Quantization: bitsandbytes 4/8-bit on CUDA, dynamic int8 on CPU, and an honest report of it.

`get_memory_footprint()` is only truthful for bitsandbytes (it counts the old fp32 weights after a
CPU quantizer swaps modules), so the report names the quantizer, counts the layer classes and
measures the size of the serialized weights instead.
"""

from __future__ import annotations

import gc
import io
import warnings
from collections import Counter
from dataclasses import dataclass
from typing import Any

from ledgerlens.pipeline.errors import ConfigError

# Modules kept in full precision under bitsandbytes: the vision tower (small, sensitive) and the head.
# transformers 5 matches these from the start of the module name, as regexes, on module boundaries.
BNB_SKIP = [r".*visual", r".*vision_tower", r".*vision_embed_tokens", "lm_head"]


@dataclass(frozen=True)
class QuantReport:
    method: str  # none | bitsandbytes-nf4 | bitsandbytes-int8 | torch-dynamic-int8
    quantizer: str  # the class that did it
    layer_classes: dict[str, int]  # class name of every Linear-like layer -> count
    serialized_mb: float  # size of the model's state_dict as torch.save writes it

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "quantizer": self.quantizer,
            "layer_classes": self.layer_classes,
            "serialized_mb": self.serialized_mb,
        }


def check_device(quant: str, device: str) -> None:
    on_cuda = device.startswith("cuda")
    if quant in ("4bit", "8bit") and not on_cuda:
        raise ConfigError(
            f"quantization {quant!r} uses bitsandbytes and needs a CUDA device (device is {device}); "
            "on CPU use quantization = 'int8' (dynamic int8), or run `ledgerlens doctor`"
        )
    if quant == "int8" and on_cuda:
        raise ConfigError("quantization 'int8' is the CPU quantizer; on CUDA use '8bit' or '4bit' (bitsandbytes)")


def bitsandbytes_config(quant: str, compute_dtype: Any) -> Any:
    """The `quantization_config` for from_pretrained (None when quant is not a bitsandbytes one)."""
    if quant not in ("4bit", "8bit"):
        return None
    try:
        import bitsandbytes  # noqa: F401
        from transformers import BitsAndBytesConfig
    except ImportError as e:
        raise ConfigError(
            f"--quant {quant} needs bitsandbytes: install the GPU extra (`pip install 'ledgerlens[gpu]'`)"
        ) from e
    if quant == "4bit":
        return BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=compute_dtype,
            llm_int8_skip_modules=BNB_SKIP,
        )
    return BitsAndBytesConfig(load_in_8bit=True, llm_int8_skip_modules=BNB_SKIP)


def quantize_dynamic_int8(model: Any) -> Any:
    """Every nn.Linear to a dynamically quantized int8 Linear (weights int8, activations quantized per
    batch), in place. Measured fastest on CPU; torchao's weight-only int8 was slower than fp32 there.
    LoRA matrices (already attached) stay in float: they are small, and switching adapters needs them."""
    import torch
    from torch.ao.quantization import default_dynamic_qconfig, quantize_dynamic

    spec = {
        name: default_dynamic_qconfig
        for name, module in model.named_modules()
        if type(module) is torch.nn.Linear and ".lora_" not in name
    }
    with warnings.catch_warnings():
        # torch.ao.quantization is marked deprecated in favour of torchao, whose CPU int8 is slower here.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", message=r".*quantized tensor creation functions", category=UserWarning)
        quantized = quantize_dynamic(model, spec, dtype=torch.qint8, inplace=True)
    gc.collect()  # the replaced fp32 Linears sit in reference cycles: without this ~4.7 GB (2B model) stays
    return quantized


def layer_classes(model: Any) -> dict[str, int]:
    """Qualified class of every Linear-like layer -> count, e.g. torch.ao.nn.quantized.dynamic.Linear: 196."""
    counts: Counter[str] = Counter()
    for module in model.modules():
        cls = type(module)
        if cls.__name__.startswith("Linear") and not cls.__name__.endswith("PackedParams"):
            where = cls.__module__.split(".modules")[0]
            counts[f"{where}.{cls.__name__}"] += 1
    return dict(sorted(counts.items()))


class _CountingSink(io.RawIOBase):
    def __init__(self) -> None:
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        n = len(memoryview(b).cast("B"))
        self.size += n
        return n


def serialized_mb(model: Any) -> float:
    """Bytes torch.save writes for the state_dict, counted without keeping them."""
    import torch

    sink = _CountingSink()
    torch.save(model.state_dict(), io.BufferedWriter(sink, buffer_size=1 << 20))
    return round(sink.size / 2**20, 2)


def report(model: Any, quant: str) -> QuantReport:
    quantizer = getattr(model, "hf_quantizer", None)
    if quant == "int8":
        method, by = "torch-dynamic-int8", "torch.ao.quantization.quantize_dynamic"
    elif quantizer is not None:
        method = "bitsandbytes-nf4" if quant == "4bit" else "bitsandbytes-int8"
        by = type(quantizer).__name__
    else:
        method, by = "none", "none"
    return QuantReport(method, by, layer_classes(model), serialized_mb(model))
