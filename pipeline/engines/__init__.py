"""Stage `extract`: engines fill a document type's schema from its pages.

One registry by name. Engine modules are imported when an engine is asked for, so that a command
that uses the `ocr` engine never imports the model engines' code (nor their heavy extras, which
those import inside functions).
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib import import_module
from typing import cast

from ledgerlens.pipeline.config import DEFAULT_ROUTE, Config
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
    """The engine of [engine] (of a route: `create_engine(config.for_route(name), checks)`)."""
    return engine_class(config.engine.name).create(config, checks)


def _routed(config: Config) -> Iterator[tuple[str, EngineClass, Config]]:
    """(route, engine class, the route's configuration) for every route that reads documents."""
    for name in config.engine.route_names():
        routed = config.for_route(name)
        try:
            cls = engine_class(routed.engine.name)
        except ConfigError as e:
            raise _in_route(config, name, e) from None
        yield name, cls, routed


def _in_route(config: Config, name: str, error: ConfigError) -> ConfigError:
    """A route's mistake, said with the route's name ([engine]'s own, as before there were routes)."""
    if not config.engine.routes or name == DEFAULT_ROUTE:
        return error
    return ConfigError(f"[engine.routes.{name}] {error}")


def check_engine(config: Config) -> None:
    """A ConfigError now, naming the fix (the model to pull, the extra to install, the adapter
    folder that is missing), rather than from every worker once documents are claimed. Every
    routed engine is checked: a document of any kind may come first."""
    for name, cls, routed in _routed(config):
        try:
            cls.check(routed)
        except ConfigError as e:
            raise _in_route(config, name, e) from None


def engine_gates(config: Config) -> dict[str, ModelGate]:
    """Route -> the gate in front of its engine's model (a server, a GPU); routes without one are
    left out. Routes that share a model share its gate, at the strictest limit any of them sets."""
    gates = {name: gate for name, cls, routed in _routed(config) if (gate := cls.gate(routed)) is not None}
    limits: dict[str, int] = {}
    for gate in gates.values():
        limits[gate.name] = min(limits.get(gate.name, gate.limit), gate.limit)
    return {name: ModelGate(gate.name, limits[gate.name]) for name, gate in gates.items()}


def default_workers(config: Config) -> int:
    """Documents processed at once when the user does not say: each routed engine has its say,
    and the strictest wins (one model in memory per worker holds every route to one worker)."""
    return max(1, min(cls.default_workers(routed) for _, cls, routed in _routed(config)))


__all__ = [
    "ENGINES",
    "AnswerChecks",
    "Engine",
    "ModelGate",
    "check_engine",
    "create_engine",
    "default_workers",
    "engine_class",
    "engine_gates",
]
