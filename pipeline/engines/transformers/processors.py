"""Qwen-VL processors that work without torchvision.

The stock Qwen2-VL / Qwen2.5-VL / Qwen3-VL processors insist on a video processor, which needs
torchvision; torchvision does not import beside the CPU torch we pin. The image-only subclasses
below do the same image-token expansion and nothing for video. They are registered with
`AutoProcessor.register` (a folder saved with one names it as its processor class) and used
directly for stock checkpoints, whose processor_config.json names the stock class.
"""

from __future__ import annotations

from functools import cache
from typing import Any

# model_type -> (module, stock processor class, config class)
QWEN_PROCESSORS = {
    "qwen2_vl": ("qwen2_vl", "Qwen2VLProcessor", "Qwen2VLConfig"),
    "qwen2_5_vl": ("qwen2_5_vl", "Qwen2_5_VLProcessor", "Qwen2_5_VLConfig"),
    "qwen3_vl": ("qwen3_vl", "Qwen3VLProcessor", "Qwen3VLConfig"),
}


@cache
def torchvision_works() -> bool:
    """Importable *and* loadable: a torchvision built for another torch fails at import with a RuntimeError."""
    try:
        import torchvision  # noqa: F401
    except Exception:  # ImportError, or RuntimeError "operator torchvision::nms does not exist"
        return False
    return True


def _token_id(tokenizer: Any, name: str, default: str) -> tuple[str, int]:
    token = getattr(tokenizer, name, None) or default
    return token, tokenizer.convert_tokens_to_ids(token)


@cache
def image_only_class(model_type: str) -> type:
    """The image-only processor class for a Qwen-VL model type, registered with AutoProcessor."""
    import importlib

    from transformers import AutoProcessor
    from transformers.processing_utils import ProcessorMixin

    module_name, stock_name, config_name = QWEN_PROCESSORS[model_type]
    module = importlib.import_module(f"transformers.models.{module_name}")
    stock = getattr(module, stock_name)

    def __init__(self: Any, image_processor: Any = None, tokenizer: Any = None, chat_template: Any = None, **kw: Any):
        self.image_token, self.image_token_id = _token_id(tokenizer, "image_token", "<|image_pad|>")
        self.video_token, self.video_token_id = _token_id(tokenizer, "video_token", "<|video_pad|>")
        self.vision_start_token, self.vision_start_token_id = _token_id(
            tokenizer, "vision_start_token", "<|vision_start|>"
        )
        self.vision_end_token, self.vision_end_token_id = _token_id(tokenizer, "vision_end_token", "<|vision_end|>")
        ProcessorMixin.__init__(self, image_processor, tokenizer, chat_template=chat_template, **kw)

    name = stock_name.replace("Processor", "ImageOnlyProcessor")
    cls = type(name, (stock,), {"__init__": __init__, "__module__": __name__, "__doc__": stock.__doc__})
    globals()[name] = cls  # importable by name, like any processor class
    AutoProcessor.register(getattr(module, config_name), cls, exist_ok=True)
    return cls
