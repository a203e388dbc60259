"""Engine registry: one dict from name to factory. Engines with heavy dependencies import them lazily."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import cast

from ledgerlens.pipeline.config import Config
from ledgerlens.pipeline.engines.base import Engine
from ledgerlens.pipeline.errors import ConfigError


def _ocr(config: Config) -> Engine:
    from ledgerlens.pipeline.engines.ocr.engine import OcrEngine

    return OcrEngine.from_config(config)


def _transformers(config: Config) -> Engine:
    from ledgerlens.pipeline.engines.transformers.engine import TransformersEngine

    return TransformersEngine.from_config(config)


def _openai(config: Config) -> Engine:
    from ledgerlens.pipeline.engines.openai.engine import OpenAIEngine

    return OpenAIEngine.from_config(config)


def _transformers_settings(config: Config) -> object:
    from ledgerlens.pipeline.engines.transformers.engine import TransformersEngine

    return TransformersEngine.settings(config)


def _openai_settings(config: Config) -> object:
    engine = _openai(config)
    engine.client.close()  # type: ignore[attr-defined]
    return engine


ENGINES: dict[str, Callable[[Config], Engine]] = {"ocr": _ocr, "transformers": _transformers, "openai": _openai}
# What checks an engine's configuration without loading a model or calling a server. Creating the
# ocr and openai engines does neither, so for them creating is checking.
CHECKS: dict[str, Callable[[Config], object]] = {
    "ocr": _ocr,
    "transformers": _transformers_settings,
    "openai": _openai_settings,
}


def _entry(table: Mapping[str, Callable[[Config], object]], name: str) -> Callable[[Config], object]:
    try:
        return table[name]
    except KeyError:
        raise ConfigError(f"unknown engine {name!r}; known engines: {', '.join(sorted(ENGINES))}") from None


def create_engine(config: Config) -> Engine:
    return cast(Engine, _entry(ENGINES, config.engine.name)(config))


def check_engine(config: Config) -> None:
    """A ConfigError now, naming the fix (the model to pull, the extra to install, the adapter
    folder that is missing), rather than from every worker once documents are claimed."""
    _entry(CHECKS, config.engine.name)(config)


__all__ = ["CHECKS", "ENGINES", "Engine", "check_engine", "create_engine"]
