"""Engine registry: one dict from name to factory. Engines with heavy dependencies import them lazily."""

from __future__ import annotations

from collections.abc import Callable

from ..config import Config
from ..errors import ConfigError
from .base import Engine


def _ocr(config: Config) -> Engine:
    from .ocr import OcrEngine

    return OcrEngine.from_config(config)


def _transformers(config: Config) -> Engine:
    from .transformers import TransformersEngine  # torch, transformers: the `vlm` extra

    return TransformersEngine.from_config(config)


def _openai(config: Config) -> Engine:
    from .openai import OpenAIEngine  # a model server over HTTP (httpx): no extra needed

    return OpenAIEngine.from_config(config)


ENGINES: dict[str, Callable[[Config], Engine]] = {"ocr": _ocr, "transformers": _transformers, "openai": _openai}


def create_engine(config: Config) -> Engine:
    name = config.engine.name
    try:
        factory = ENGINES[name]
    except KeyError:
        raise ConfigError(f"unknown engine {name!r}; known engines: {', '.join(sorted(ENGINES))}") from None
    return factory(config)


__all__ = ["ENGINES", "Engine", "create_engine"]
