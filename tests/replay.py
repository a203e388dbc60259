"""The replay engine in tests: the generated samples as the real ocr engine read them, recorded in
tests/fixtures/recordings (`make recordings`). Tests of flows, intake, recovery, the store and the
exports use it, so they need no Tesseract and do not change when the reading gets better; tests
of reading and accuracy keep the real engine."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ledgerlens.pipeline.config import CONFIG_NAME, Config, EngineConfig

RECORDINGS = Path(__file__).resolve().parent / "fixtures" / "recordings"
REPLAY = EngineConfig(name="replay", options={"recordings": str(RECORDINGS)})


def replay_config(base: Config | None = None) -> Config:
    return dataclasses.replace(base or Config(), engine=REPLAY)


def replay_toml() -> str:
    """The [engine] tables of a ledgerlens.toml that replays the recorded samples."""
    return f'[engine]\nname = "replay"\n\n[engine.options]\nrecordings = "{RECORDINGS}"\n'


def use_replay(ws_root: Path) -> None:
    """Point a workspace's ledgerlens.toml (as `ledgerlens init` wrote it) at the replay engine."""
    toml = ws_root / CONFIG_NAME
    text = toml.read_text(encoding="utf-8")
    start = text.index("\n[engine]\n")
    end = text.index("\n[", start + 1)
    toml.write_text(text[:start] + "\n" + replay_toml() + text[end:], encoding="utf-8")
