"""The replay engine: a recorded document comes back as the real engine read it, with no Tesseract;
a document without a recording fails, never gets made-up data; recordings cover the samples."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from fixtures.bad_inputs import reportlab_pdf
from ledgerlens.pipeline.books.store import Store
from ledgerlens.pipeline.chain import Context, process_file
from ledgerlens.pipeline.chain.record import record_file
from ledgerlens.pipeline.check.answers import PIPELINE_CHECKS
from ledgerlens.pipeline.config import Config, EngineConfig
from ledgerlens.pipeline.engines import create_engine
from ledgerlens.pipeline.engines.replay.recording import load_recording, output_from_json, output_to_json
from ledgerlens.pipeline.errors import ConfigError
from ledgerlens.pipeline.intake.claims import claim
from ledgerlens.pipeline.intake.jobs import run_document
from ledgerlens.pipeline.intake.journal import Journal
from ledgerlens.pipeline.intake.watcher import entry_for
from ledgerlens.pipeline.intake.workspace import Workspace
from ledgerlens.pipeline.read import ocr as ocr_module
from ledgerlens.pipeline.read.load import file_sha256
from ledgerlens.pipeline.types import Status
from replay import RECORDINGS

from ledgerlens.cli import main


def _documents(samples: Path) -> list[Path]:
    """The samples an engine reads: XML e-invoices never reach one (the XML is the data)."""
    return sorted(p for p in samples.iterdir() if not p.name.endswith((".json", ".jsonl", ".xml")))


def test_every_sample_has_a_recording_and_every_recording_is_a_sample(samples: Path) -> None:
    expected = {file_sha256(p): p.name for p in _documents(samples)}
    recorded = {p.stem for p in RECORDINGS.glob("*.json")}
    missing = sorted(name for sha, name in expected.items() if sha not in recorded)
    assert not missing, f"samples changed: no recording of {missing}; run `make recordings`"
    assert recorded <= set(expected), "recordings of documents the samples no longer hold: run `make recordings`"


@pytest.mark.parametrize("name", ["invoice_de.pdf", "receipt_gb_cafe.scan.png", "letter_en_unknown.pdf"])
def test_a_replay_gives_what_the_real_engine_gives(samples: Path, context: Context, replay_context: Context,
                                                   name: str) -> None:  # fmt: skip
    """Also the guard against stale recordings: when reading or the finder change, this fails."""
    real, replayed = process_file(samples / name, context), process_file(samples / name, replay_context)
    hint = "the real engine reads this sample differently now: run `make recordings`"
    assert (replayed.doc_type, replayed.status, replayed.data) == (real.doc_type, real.status, real.data), hint
    assert [i.to_dict() for i in replayed.issues] == [i.to_dict() for i in real.issues], hint
    assert replayed.confidence == real.confidence, hint
    assert replayed.provenance["pages"] == real.provenance["pages"]


def test_a_replay_needs_no_tesseract(samples: Path, replay_context: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ocr_module, "TESSERACT", "/nowhere/tesseract")
    result = process_file(samples / "invoice_fr.scan.png", replay_context)
    assert result.status is Status.OK and result.data["total_amount"]
    assert [p["text_source"] for p in result.provenance["pages"]] == ["ocr"]  # the recorded OCR words
    assert "ocr" not in result.timings and "rasterize" not in result.timings
    engine = result.provenance["engine"]
    assert engine["engine"] == "replay" and engine["recorded"]["engine"] == "ocr"
    assert engine["recording"] == f"{file_sha256(samples / 'invoice_fr.scan.png')}.json"


def test_a_document_without_a_recording_fails_and_gets_no_data(tmp_path: Path, replay_context: Context) -> None:
    path = tmp_path / "new invoice.pdf"
    path.write_bytes(reportlab_pdf([["INVOICE 2025-17", "Total 100.00 EUR"]]))
    result = process_file(path, replay_context)
    assert result.status is Status.FAILED and result.data == {}
    (issue,) = result.issues
    assert issue.code == "no_recording" and "new invoice.pdf" in issue.message
    assert "ledgerlens record" in result.provenance["error"]["hint"]


def test_a_type_the_recording_has_no_answer_for_fails(ws: Workspace, store: Store, samples: Path,
                                                      replay_context: Context) -> None:  # fmt: skip
    """An intake sub-folder makes the receipt an invoice; the recording only holds its receipt answer."""
    path = ws.intake / "invoices" / "receipt_gb_cafe.pdf"
    path.parent.mkdir()
    shutil.copy(samples / "receipt_gb_cafe.pdf", path)
    journal = Journal(store)
    row = claim(entry_for(path, ws.intake), ws, store, journal)
    assert row is not None
    run_document(row.id, ws, replay_context, store, journal)
    result = store.all()[0].result
    assert result.status is Status.FAILED and result.data == {}
    assert result.issues[0].code == "no_recording"
    assert "no answer for the type invoice (recorded: receipt)" in result.issues[0].message


def test_replay_options_are_checked() -> None:
    def create(options: dict[str, object]) -> object:
        return create_engine(Config(engine=EngineConfig(name="replay", options=options)), PIPELINE_CHECKS)

    with pytest.raises(ConfigError, match=re.escape("needs [engine.options] recordings")):
        create({})
    with pytest.raises(ConfigError, match=re.escape("ledgerlens record FILE... --to")):
        create({"recordings": "/nowhere/recordings"})
    with pytest.raises(ConfigError, match="unknown key"):
        create({"recordings": str(RECORDINGS), "folder": "x"})
    with pytest.raises(ConfigError, match="replay"):
        create_engine(Config(engine=EngineConfig(name="replya")), PIPELINE_CHECKS)


def test_record_writes_what_a_replay_reads_back(samples: Path, tmp_path: Path, context: Context) -> None:
    recorded = record_file(samples / "statement_de_2pages.pdf", context, tmp_path)
    assert recorded.path == tmp_path / f"{recorded.result.sha256}.json"
    recording = load_recording(tmp_path, recorded.result.sha256)
    assert recording is not None and len(recording.pages) == recorded.result.page_count == 2
    (answer,) = recording.outputs.values()
    assert output_from_json(json.loads(json.dumps(output_to_json(answer)))) == answer
    assert sorted(recording.outputs) == ["bank_statement"]
    with pytest.raises(ConfigError, match="real engine"):
        record_file(samples / "statement_de_2pages.pdf", Context.create(Config(engine=EngineConfig(
            name="replay", options={"recordings": str(tmp_path)}))), tmp_path)  # fmt: skip


def test_the_record_command_says_what_it_could_not_record(samples: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    (tmp_path / "empty.pdf").write_bytes(b"")
    folder = tmp_path / "recordings"
    assert main(["record", str(samples / "invoice_en_gb.pdf"), str(tmp_path / "empty.pdf"), "--to", str(folder)]) == 1
    out = capsys.readouterr().out
    assert "invoice_en_gb.pdf: invoice" in out and "empty.pdf: not recorded" in out
    assert [p.stem for p in folder.iterdir()] == [file_sha256(samples / "invoice_en_gb.pdf")]
