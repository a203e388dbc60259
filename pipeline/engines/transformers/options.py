"""How the transformers engine runs (`[engine.options]`): device, dtype, quantization, page size, budgets.

What it runs (model id, revision, adapters, prompt version) lives in `[engine]` itself; see
`pipeline/config.py`. Unknown keys and bad values are ConfigErrors naming the key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ledgerlens.pipeline.config import parse_table
from ledgerlens.pipeline.errors import ConfigError

QUANTIZATIONS = ("none", "int8", "8bit", "4bit")
DTYPES = ("auto", "float32", "bfloat16", "float16")
IMAGE_FACTOR = 28  # Qwen-VL: 14-pixel patches merged 2x2; page sides are multiples of this


@dataclass(frozen=True)
class TransformersOptions:
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    dtype: str = "auto"  # auto: bfloat16 (or float16) on CUDA, float32 on CPU (bf16 is slow on most CPUs)
    # none; int8 = dynamic int8 on CPU (torch); 8bit / 4bit = bitsandbytes on CUDA
    quantization: str = "none"
    threads: int = 0  # CPU threads; 0 = one per physical core
    min_pixels: int = 56 * 56
    max_pixels: int = 1280 * 28 * 28  # per page: the vision encoder's cost grows with it
    max_new_tokens: int = 1024
    max_context_tokens: int = 0  # 0 = the registry's context size (32768 for a folder not in it)
    max_reasks: int = 1  # extra attempts with the validation errors in the prompt
    constrained: bool = True  # schema-constrained decoding (off only to measure its cost)
    temperature: float = 0.0  # 0 = greedy
    seed: int = 0
    trust_remote_code: bool = False  # run code from a model folder not marked so in the registry
    words: bool = False  # a vision model gets the pages' layout text beside the images (text models always read it)

    def __post_init__(self) -> None:
        if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", self.device):
            raise ConfigError(f"engine.options.device must be auto, cpu, cuda or cuda:N, got {self.device!r}")
        if self.dtype not in DTYPES:
            raise ConfigError(f"engine.options.dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        if self.quantization not in QUANTIZATIONS:
            raise ConfigError(
                f"engine.options.quantization must be one of {', '.join(QUANTIZATIONS)}, got {self.quantization!r}"
            )
        if not 0 < self.min_pixels <= self.max_pixels:
            raise ConfigError("engine.options: 0 < min_pixels <= max_pixels is required")
        if self.max_pixels < IMAGE_FACTOR * IMAGE_FACTOR * 4:
            raise ConfigError(f"engine.options.max_pixels must be at least {IMAGE_FACTOR**2 * 4}")
        if not 16 <= self.max_new_tokens <= 32768:
            raise ConfigError("engine.options.max_new_tokens must be between 16 and 32768")
        if not 0 <= self.max_reasks <= 5:
            raise ConfigError("engine.options.max_reasks must be between 0 and 5")
        if self.threads < 0 or self.max_context_tokens < 0:
            raise ConfigError("engine.options.threads and max_context_tokens must not be negative")
        if not 0.0 <= self.temperature <= 2.0:
            raise ConfigError("engine.options.temperature must be between 0 and 2")

    @classmethod
    def parse(cls, table: dict[str, object]) -> TransformersOptions:
        return parse_table(cls, dict(table), "engine.options")
