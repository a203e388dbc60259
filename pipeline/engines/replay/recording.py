"""A recording: what the chain read on a document's pages and what its engine answered, as JSON.

One file per document, named by the sha256 of its bytes (`<sha256>.json`), in a folder of
recordings:

    {"format": "ledgerlens-recording/1", "sha256": ..., "source_name": ...,
     "pages": [{"index", "width", "height", "text_source", "dpi",
                "words": [[text, x0, y0, x1, y1, conf, line, block], ...]}, ...],
     "outputs": {"invoice": {EngineOutput}, ...}}

`outputs` is keyed by the document type the engine was asked to fill; it is empty for a document
the chain ended before extraction (no text, an unknown type). Nothing here knows the chain: the
chain's recorder (`chain/record.py`) fills a `Recording`, the replay engine reads one.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledgerlens.pipeline.types import EngineOutput, FieldEvidence, Issue, Page, Word

FORMAT = "ledgerlens-recording/1"


@dataclass
class Recording:
    sha256: str
    source_name: str
    pages: list[Page]
    outputs: dict[str, EngineOutput] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "sha256": self.sha256,
            "source_name": self.source_name,
            "pages": [_page_json(p) for p in self.pages],
            "outputs": {doc_type: output_to_json(out) for doc_type, out in sorted(self.outputs.items())},
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Recording:
        if raw.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} recording (format {raw.get('format')!r})")
        return cls(
            sha256=raw["sha256"],
            source_name=raw["source_name"],
            pages=[_page_from(p) for p in raw["pages"]],
            outputs={doc_type: output_from_json(o) for doc_type, o in raw["outputs"].items()},
        )


def path_for(folder: Path, sha256: str) -> Path:
    return folder / f"{sha256}.json"


def load_recording(folder: Path, sha256: str) -> Recording | None:
    """The recording of the document with this sha256, or None when the folder has none."""
    path = path_for(folder, sha256)
    if not path.is_file():
        return None
    recording = Recording.from_json(json.loads(path.read_text(encoding="utf-8")))
    if recording.sha256 != sha256:
        raise ValueError(f"{path.name} holds the recording of {recording.sha256}, not of {sha256}")
    return recording


def save_recording(folder: Path, recording: Recording) -> Path:
    """Write `<sha256>.json` atomically, compact (a scanned page holds hundreds of words)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = path_for(folder, recording.sha256)
    text = json.dumps(recording.to_json(), ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n"
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".recording-", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(tmp, 0o644)  # mkstemp makes it private; a recording is a fixture to share
    os.replace(tmp, path)
    return path


# ---------------------------------------------------------------- pages


def _page_json(page: Page) -> dict[str, Any]:
    return {
        "index": page.index,
        "width": page.width,
        "height": page.height,
        "text_source": page.text_source,
        "dpi": page.dpi,
        "words": [[w.text, *(round(v, 2) for v in w.bbox), round(w.conf, 4), w.line, w.block] for w in page.words],
    }


def _page_from(raw: dict[str, Any]) -> Page:
    words = [Word(t, (x0, y0, x1, y1), conf, line, block) for t, x0, y0, x1, y1, conf, line, block in raw["words"]]
    return Page(raw["index"], raw["width"], raw["height"], words, raw["text_source"], None, raw["dpi"])


# ---------------------------------------------------------------- engine output


def output_to_json(out: EngineOutput) -> dict[str, Any]:
    """`EngineOutput` as JSON. Data must be JSON already (strings, numbers, lists, objects): an
    engine that put a Decimal or a date in it fails here, not silently later."""
    return {
        "raw_text": out.raw_text,
        "data": out.data,
        "field_evidence": {k: _evidence_json(ev) for k, ev in out.field_evidence.items()},
        "model_info": out.model_info,
        "timings": out.timings,
        "token_logprobs": out.token_logprobs,
        "issues": [i.to_dict() for i in out.issues],
    }


def output_from_json(raw: dict[str, Any]) -> EngineOutput:
    return EngineOutput(
        raw_text=raw["raw_text"],
        data=raw["data"],
        field_evidence={k: _evidence_from(ev) for k, ev in raw["field_evidence"].items()},
        model_info=raw["model_info"],
        timings=raw["timings"],
        token_logprobs=raw["token_logprobs"],
        issues=[Issue.from_dict(i) for i in raw["issues"]],
    )


def _evidence_json(ev: FieldEvidence) -> dict[str, Any]:
    # Unrounded, unlike FieldEvidence.to_dict (which is for people): a replay gives the same confidences.
    return {"confidence": ev.confidence, "page": ev.page, "bbox": ev.bbox, "source": ev.source, "text": ev.text}


def _evidence_from(raw: dict[str, Any]) -> FieldEvidence:
    b = raw["bbox"]
    bbox = (b[0], b[1], b[2], b[3]) if b else None
    return FieldEvidence(raw["confidence"], raw["page"], bbox, raw["source"], raw["text"])
