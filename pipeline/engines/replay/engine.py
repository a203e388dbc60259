"""The replay engine: the recorded pages and answer of a document, found by its sha256."""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledgerlens.pipeline.config import Config, parse_table
from ledgerlens.pipeline.doctypes.schemas import DocumentSchema
from ledgerlens.pipeline.engines.base import AnswerChecks, ModelGate
from ledgerlens.pipeline.engines.replay.recording import Recording, load_recording, path_for
from ledgerlens.pipeline.errors import ConfigError, DocumentError
from ledgerlens.pipeline.machine import physical_cores
from ledgerlens.pipeline.types import Document, EngineOutput, Page


@dataclass(frozen=True)
class ReplayOptions:
    recordings: str = ""  # the folder of <sha256>.json recordings


class ReplayEngine:
    name = "replay"
    needs_images = False

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @classmethod
    def _folder(cls, config: Config) -> Path:
        options: ReplayOptions = parse_table(ReplayOptions, config.engine.options, "engine.options")
        if not options.recordings:
            raise ConfigError('the replay engine needs [engine.options] recordings = "<folder of recordings>"')
        folder = Path(options.recordings).expanduser().resolve()
        if not folder.is_dir():
            raise ConfigError(
                f"no folder of recordings at {folder}; record documents into it with "
                f"`ledgerlens record FILE... --to {folder}`"
            )
        return folder

    @classmethod
    def check(cls, config: Config) -> None:
        cls._folder(config)

    @classmethod
    def create(cls, config: Config, checks: AnswerChecks | None = None) -> ReplayEngine:
        return cls(cls._folder(config))

    @classmethod
    def gate(cls, config: Config) -> ModelGate | None:
        return None  # nothing shared: each worker reads files

    @classmethod
    def default_workers(cls, config: Config) -> int:
        return physical_cores()  # the chain around it (load, parse, validate, store) is the work

    def describe(self) -> dict[str, Any]:
        return {"engine": self.name, "model": None, "recordings": str(self.folder)}

    def _recording(self, sha256: str, name: str) -> Recording:
        try:
            recording = load_recording(self.folder, sha256)
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise DocumentError(
                "bad_recording",
                f"The recording of {name} ({path_for(self.folder, sha256).name}) cannot be read: {e}",
                stage="extract",
                hint="Record the document again with `ledgerlens record`.",
            ) from e
        if recording is None:
            raise DocumentError(
                "no_recording",
                f"The replay engine has no recording of {name} (sha256 {sha256[:12]}…) in {self.folder}: "
                "it only gives back what a real engine answered before.",
                stage="extract",
                hint=f"Record it with `ledgerlens record {name} --to {self.folder}`, or use a real engine.",
            )
        return recording

    def read_pages(self, doc: Document) -> list[Page] | None:
        """The words of the recorded run, instead of the text layer and Tesseract."""
        recording = self._recording(doc.sha256, doc.source_name)
        if len(recording.pages) != len(doc.pages):
            raise DocumentError(
                "bad_recording",
                f"The recording of {doc.source_name} has {len(recording.pages)} page(s), the document "
                f"{len(doc.pages)} (recorded with other page limits?).",
                stage="extract",
                hint="Record the document again with the configuration you replay it with.",
            )
        return recording.pages

    def extract(
        self,
        pages: list[Page],
        doc_type: str,
        schema: DocumentSchema,
        prompt: str | None = None,
        hints: dict[str, Any] | None = None,
    ) -> EngineOutput:
        start = time.perf_counter()
        sha256 = str((hints or {}).get("sha256", ""))
        name = str((hints or {}).get("source_name", sha256[:12]))
        recording = self._recording(sha256, name)
        recorded = recording.outputs.get(doc_type)
        if recorded is None:
            had = ", ".join(sorted(recording.outputs)) or "none: the recorded run ended before extraction"
            raise DocumentError(
                "no_recording",
                f"The recording of {name} has no answer for the type {doc_type} (recorded: {had}).",
                stage="extract",
                hint="Use a real engine for this document, or record it again as that type.",
            )
        return EngineOutput(
            raw_text=recorded.raw_text,
            data=copy.deepcopy(recorded.data),
            field_evidence=dict(recorded.field_evidence),
            model_info={
                "engine": self.name,
                "recording": path_for(self.folder, sha256).name,
                "recorded": recorded.model_info,
            },
            timings={"replay": time.perf_counter() - start},
            token_logprobs=recorded.token_logprobs,
            issues=list(recorded.issues),
        )
