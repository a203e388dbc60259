"""Recording a document for the replay engine: the chain runs as usual with a real engine, and a
runner that watches the stages keeps the pages it read and the engine's answers.

When a receipt got a second reading that won, the recording holds that reading and the answer to
it: a replay gives the result the real run kept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledgerlens.pipeline.chain.run import Context, Runner, direct, process_file
from ledgerlens.pipeline.engines.replay.recording import Recording, save_recording
from ledgerlens.pipeline.errors import ConfigError
from ledgerlens.pipeline.types import DocumentResult, EngineOutput, Page

READINGS = ("ocr", "ocr_second")  # the stages whose result is the document with its pages' words


@dataclass
class _Tape:
    """Calls every stage through `runner` and keeps the pages of each reading and each answer."""

    runner: Runner = direct
    pages: dict[str, list[Page]] = field(default_factory=dict)
    answers: list[tuple[str, str, EngineOutput]] = field(default_factory=list)  # (reading, doc type, output)

    def __call__(self, stage: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        out = self.runner(stage, fn, *args, **kwargs)
        if stage in READINGS:
            self.pages[stage] = list(out.pages)
        elif stage == "extract":
            reading = "ocr_second" if "ocr_second" in self.pages else "ocr"
            self.answers.append((reading, args[1], out))
        return out


@dataclass(frozen=True)
class Recorded:
    result: DocumentResult  # what the real run gave
    path: Path | None  # the recording written; None when the document failed before it was read


def record_file(path: Path, ctx: Context, folder: Path, *, source_name: str | None = None) -> Recorded:
    """Run `path` through the chain with the context's (real) engine and write its recording."""
    config = ctx.config
    if any(config.for_route(name).engine.name == "replay" for name in config.engine.route_names()):
        raise ConfigError("record with a real engine (ocr, transformers, openai), not with replay")
    tape = _Tape()
    result = process_file(path, ctx, source_name=source_name, runner=tape)
    second = result.provenance.get("second_reading", {}).get("used", False)
    reading = "ocr_second" if second else "ocr"
    pages = tape.pages.get(reading)
    if pages is None:  # it failed while loading: a replay fails the same way without a recording
        return Recorded(result, None)
    outputs = {doc_type: out for r, doc_type, out in tape.answers if r == reading}
    recording = Recording(result.sha256, result.source_name, pages, outputs)
    return Recorded(result, save_recording(folder, recording))
