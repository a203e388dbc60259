"""Stage `extract`: engines fill a document type's schema from its pages.

One registry by name. Engine modules are imported when an engine is asked for, so that a command
that uses the `ocr` engine never imports the model engines' code (nor their heavy extras, which
those import inside functions).
"""

from __future__ import annotations

from importlib import import_module
from typing import cast

from ledgerlens.pipeline.config import Config
from ledgerlens.pipeline.engines.base import AnswerChecks, Engine, EngineClass, ModelGate
from ledgerlens.pipeline.errors import ConfigError

ENGINES: dict[str, str] = {
    "ocr": "ledgerlens.pipeline.engines.ocr.engine:OcrEngine",
    "transformers": "ledgerlens.pipeline.engines.transformers.engine:TransformersEngine",
    "openai": "ledgerlens.pipeline.engines.openai.engine:OpenAIEngine",
    # A test double with the real contract: recorded pages and answers (`ledgerlens record`).
    "replay": "ledgerlens.pipeline.engines.replay.engine:ReplayEngine",
}


def engine_class(name: str) -> EngineClass:
    try:
        module, _, attr = ENGINES[name].partition(":")
    except KeyError:
        raise ConfigError(f"unknown engine {name!r}; known engines: {', '.join(sorted(ENGINES))}") from None
    return cast(EngineClass, getattr(import_module(module), attr))


def create_engine(config: Config, checks: AnswerChecks) -> Engine:
    return engine_class(config.engine.name).create(config, checks)


def check_engine(config: Config) -> None:
    """A ConfigError now, naming the fix (the model to pull, the extra to install, the adapter
    folder that is missing), rather than from every worker once documents are claimed."""
    engine_class(config.engine.name).check(config)


def engine_gate(config: Config) -> ModelGate | None:
    """The gate in front of the configured engine's model (a server, a GPU), or None."""
    return engine_class(config.engine.name).gate(config)


def default_workers(config: Config) -> int:
    """Documents processed at once when the user does not say: the engine decides."""
    return max(1, engine_class(config.engine.name).default_workers(config))


__all__ = [
    "ENGINES",
    "AnswerChecks",
    "Engine",
    "ModelGate",
    "check_engine",
    "create_engine",
    "default_workers",
    "engine_class",
    "engine_gate",
]
