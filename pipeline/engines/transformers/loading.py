"""Load a vision-language model and its processor from a folder, offline, once per process.

Qwen-VL loads through `AutoModelForImageTextToText` (with the image-only processor when
torchvision is missing); Phi-3.5-Vision through its own code (`trust_remote_code`) from its folder.
Then the device, the dtype and bitsandbytes quantization (CUDA); CPU int8 comes after the LoRA
adapters are attached (`quantize.quantize_dynamic_int8`): PEFT cannot wrap quantized layers. Out of memory is a
ConfigError that says what to try (`ledgerlens doctor`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from ledgerlens.pipeline.engines.transformers.options import TransformersOptions
from ledgerlens.pipeline.engines.transformers.processors import QWEN_PROCESSORS, image_only_class, torchvision_works
from ledgerlens.pipeline.engines.transformers.quantize import QuantReport, bitsandbytes_config, check_device, report
from ledgerlens.pipeline.engines.transformers.registry import ResolvedModel, require_weights
from ledgerlens.pipeline.errors import ConfigError
from ledgerlens.pipeline.machine import physical_cores

DOCTOR_ADVICE = (
    "run `ledgerlens doctor` for a model and quantization that fit this machine "
    "(a smaller model, --quant 4bit on a GPU, --quant int8 on CPU, or a lower engine.options.max_pixels)"
)


@dataclass
class LoadedModel:
    model: Any
    processor: Any
    device: str
    dtype: str
    quant: str
    load_seconds: float
    _report: QuantReport | None = None

    @property
    def tokenizer(self) -> Any:
        return getattr(self.processor, "tokenizer", self.processor)  # a text model's processor is its tokenizer

    def quant_report(self) -> QuantReport:
        if self._report is None:
            self._report = report(self.model, self.quant)
        return self._report


def pick_device(requested: str) -> str:
    import torch

    if requested == "auto":
        return "cuda:0" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device {requested!r} asked for, but torch sees no CUDA device; {DOCTOR_ADVICE}")
    return "cuda:0" if requested == "cuda" else requested


def pick_dtype(requested: str, device: str, quant: str = "none") -> Any:
    import torch

    if requested == "auto":
        if device == "cpu":
            return torch.float32  # bf16 matmuls run ~5x slower than fp32 on CPUs without native bf16
        if quant == "8bit":
            return torch.float16  # bitsandbytes' int8 matmul computes in fp16 (it casts bf16 inputs)
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return getattr(torch, requested)


def is_out_of_memory(error: BaseException) -> bool:
    import torch

    if isinstance(error, torch.OutOfMemoryError | MemoryError):
        return True
    text = str(error).lower()
    return isinstance(error, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)


def load_processor(resolved: ResolvedModel, options: TransformersOptions, trust: bool) -> Any:
    """The image processor + tokenizer of a vision model; the tokenizer of a text model."""
    from transformers import AutoProcessor
    from transformers.processing_utils import ProcessorMixin

    kwargs: dict[str, Any] = {"trust_remote_code": trust}
    if resolved.kind == "text":
        return _load_tokenizer(resolved, kwargs)
    try:
        if resolved.family in QWEN_PROCESSORS:
            kwargs["size"] = {"shortest_edge": options.min_pixels, "longest_edge": options.max_pixels}
            image_only = image_only_class(resolved.family)  # registered, so folders saved with it resolve
            processor = _qwen_processor(resolved, image_only, kwargs)
        else:
            processor = AutoProcessor.from_pretrained(str(resolved.path), **kwargs)
    except (OSError, ValueError, ImportError) as e:
        raise ConfigError(f"cannot load the processor of {resolved.name} from {resolved.path}: {e}") from e
    # An unregistered custom processor class silently degrades to a bare tokenizer.
    if not isinstance(processor, ProcessorMixin) or getattr(processor, "image_processor", None) is None:
        raise ConfigError(
            f"{resolved.path} loaded as {type(processor).__name__}, not an image processor + tokenizer: "
            "the folder's processor_config.json names a processor class this install cannot build"
        )
    return processor


def _load_tokenizer(resolved: ResolvedModel, kwargs: dict[str, Any]) -> Any:
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(resolved.path), **kwargs)
    except (OSError, ValueError, ImportError) as e:
        raise ConfigError(f"cannot load the tokenizer of {resolved.name} from {resolved.path}: {e}") from e
    if tokenizer.eos_token_id is None:
        raise ConfigError(f"the tokenizer of {resolved.name} in {resolved.path} has no end token: answers cannot end")
    return tokenizer


def require_extra() -> None:
    import importlib.util

    missing = [m for m in ("torch", "transformers", "llguidance", "peft") if importlib.util.find_spec(m) is None]
    if missing:
        raise ConfigError(
            f"the transformers engine needs {', '.join(missing)}: install the `vlm` extra "
            "(`pip install 'ledgerlens[vlm]'`; on a CUDA machine also `ledgerlens[gpu]`)"
        )


def _qwen_processor(resolved: ResolvedModel, image_only: Any, kwargs: dict[str, Any]) -> Any:
    """The stock processor where torchvision works and the folder has what its video half needs;
    else the image-only one (pages are images: nothing is lost)."""
    from transformers import AutoProcessor

    if torchvision_works():
        try:
            return AutoProcessor.from_pretrained(str(resolved.path), **kwargs)
        except (OSError, ValueError):
            pass  # e.g. no video_preprocessor_config.json: fall back to images only
    return image_only.from_pretrained(str(resolved.path), **kwargs)


def load(resolved: ResolvedModel, options: TransformersOptions) -> LoadedModel:
    require_extra()
    import torch
    import transformers

    started = time.perf_counter()
    device = pick_device(options.device)
    check_device(options.quantization, device)
    dtype = pick_dtype(options.dtype, device, options.quantization)
    trust = resolved.trust_remote_code or options.trust_remote_code
    if trust and not (resolved.path / "config.json").is_file():
        raise ConfigError(f"{resolved.path} has no config.json")
    if device == "cpu":
        torch.set_num_threads(options.threads or physical_cores())
    auto_class = getattr(transformers, resolved.auto_class)
    kwargs: dict[str, Any] = {"dtype": dtype, "trust_remote_code": trust}
    quant_config = bitsandbytes_config(options.quantization, dtype)
    if quant_config is not None:
        kwargs |= {"quantization_config": quant_config, "device_map": {"": device}}
    processor = load_processor(resolved, options, trust)
    require_weights(resolved)
    try:
        model = auto_class.from_pretrained(str(resolved.path), **kwargs)
        if quant_config is None:
            model = model.to(device)
    except Exception as e:
        if is_out_of_memory(e):
            raise ConfigError(f"out of memory loading {resolved.name} on {device}: {DOCTOR_ADVICE}") from e
        if isinstance(e, OSError | ValueError | ImportError | KeyError):
            raise ConfigError(f"cannot load {resolved.name} from {resolved.path}: {e}") from e
        raise
    model.eval()
    dtype_name = str(dtype).removeprefix("torch.")
    return LoadedModel(model, processor, device, dtype_name, options.quantization, time.perf_counter() - started)
