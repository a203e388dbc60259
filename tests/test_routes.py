"""[engine.routes]: an engine per kind of input (born-digital PDF, scan, e-invoice).

Documents go through the real chain: a born-digital PDF is read by the ocr engine from its text
layer, its scanned copy by the replay engine (the samples' recorded readings), an e-invoice by
the engine of its own route, or from its XML alone.
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pytest
from ledgerlens.pipeline.chain import Context, process_file
from ledgerlens.pipeline.config import Config, EngineConfig, parse_config
from ledgerlens.pipeline.engines import check_engine, default_workers, engine_gates
from ledgerlens.pipeline.errors import ConfigError
from ledgerlens.pipeline.machine import physical_cores
from ledgerlens.pipeline.measure.evaluate import Case
from ledgerlens.pipeline.measure.report import Report, _markdown
from replay import RECORDINGS

from ledgerlens.cli import main

BORN_DIGITAL, SCAN = "invoice_de.pdf", "invoice_de.scan.png"
REPLAY = {"name": "replay", "options": {"recordings": str(RECORDINGS)}}


def routed(**routes: Any) -> Config:
    """The ocr engine as [engine], with these routes."""
    return Config(engine=EngineConfig(name="ocr", routes=routes))


def _route(result: Any) -> dict[str, Any]:
    return dict(result.provenance["route"])


# --- configuration -------------------------------------------------------------------------------


def test_a_route_of_the_same_engine_overrides_only_what_it_names() -> None:
    engine = EngineConfig(
        name="transformers",
        model="qwen2.5-vl-7b",
        options={"quantization": "4bit", "max_new_tokens": 512},
        routes={"scanned": {"model": "qwen2.5-vl-3b", "options": {"max_new_tokens": 256}}},
    )
    scanned = engine.route("scanned")
    assert (scanned.name, scanned.model) == ("transformers", "qwen2.5-vl-3b")
    assert scanned.options == {"quantization": "4bit", "max_new_tokens": 256}
    assert engine.route("born_digital") == replace(engine, routes={})  # no route: [engine] reads it
    assert engine.route_names() == ["scanned", "default"]


def test_a_route_of_another_engine_starts_from_its_defaults() -> None:
    engine = EngineConfig(
        name="openai", model="qwen2.5vl:7b", options={"preset": "ollama"}, routes={"scanned": {"name": "ocr"}}
    )
    assert engine.route("scanned") == EngineConfig(name="ocr")
    every = {kind: {"name": "ocr"} for kind in ("born_digital", "scanned", "einvoice")}
    assert EngineConfig(name="openai", routes=every).route_names() == ["born_digital", "scanned", "einvoice"]


def test_routes_go_through_the_flow_parameter_unchanged() -> None:
    config = routed(scanned=REPLAY, einvoice={"name": "ocr"})
    assert parse_config(config.to_dict()) == config


@pytest.mark.parametrize(
    ("routes", "message"),
    [
        (
            {"scans": {"name": "ocr"}},
            r"unknown input kind\(s\) in \[engine.routes\]: scans; known: born_digital, scanned, einvoice",
        ),
        ({"scanned": {"modle": "x"}}, r"unknown key\(s\) in \[engine.routes.scanned\]: modle"),
        ({"scanned": {"name": "ocr", "model": 7}}, r"\[engine.routes.scanned\] model must be str, got int"),
        ({"scanned": {"options": "fast"}}, r"\[engine.routes.scanned\] options must be dict, got str"),
        ({"scanned": "ocr"}, r"\[engine.routes.scanned\] must be a table"),
        ({"scanned": {"routes": {}}}, r"\[engine.routes.scanned\] cannot hold routes of its own"),
    ],
)
def test_mistakes_in_routes_are_said_when_the_configuration_is_read(routes: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config({"engine": {"name": "ocr", "routes": routes}})


def test_every_routed_engine_is_checked_and_a_mistake_names_its_route(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[engine.routes.born_digital\] unknown engine 'tesseract'; known engines"):
        check_engine(routed(born_digital={"name": "tesseract"}))
    with pytest.raises(ConfigError, match=r"\[engine.routes.scanned\] the ocr engine takes no \[engine.options\]"):
        check_engine(
            Config(
                engine=EngineConfig(
                    name="replay",
                    options=REPLAY["options"],
                    routes={"scanned": {"name": "ocr", "options": {"temperature": 0}}},
                )
            )
        )
    missing = {"name": "replay", "options": {"recordings": str(tmp_path / "nowhere")}}
    with pytest.raises(ConfigError, match=r"\[engine.routes.einvoice\] no folder of recordings at"):
        check_engine(routed(scanned=REPLAY, einvoice=missing))
    with pytest.raises(ConfigError, match=r"\[engine.routes.einvoice\] no folder of recordings"):
        Context.create(routed(einvoice=missing))  # a worker's context checks them all too
    # [engine] is not checked when every kind has a route of its own: nothing would use it
    every = {kind: REPLAY for kind in ("born_digital", "scanned", "einvoice")}
    check_engine(Config(engine=EngineConfig(name="no-such-engine", routes=every)))


def test_the_strictest_routed_engine_decides_workers_and_gates() -> None:
    assert default_workers(routed(scanned=REPLAY)) == physical_cores()
    # a local model means one worker (one model in memory each), whichever route it reads
    assert default_workers(routed(scanned={"name": "transformers", "model": "qwen2-vl-2b"})) == 1
    server = {"base_url": "http://127.0.0.1:8000/v1", "preset": "vllm"}
    config = routed(
        born_digital={"name": "openai", "model": "a", "options": {**server, "concurrency": 8}},
        scanned={"name": "openai", "model": "b", "options": {**server, "concurrency": 2}},
        einvoice={
            "name": "openai",
            "model": "c",
            "options": {"base_url": "http://127.0.0.1:9000/v1", "concurrency": 3},
        },
    )
    gates = engine_gates(config)
    assert sorted(gates) == ["born_digital", "einvoice", "scanned"]  # [engine] (ocr) reads nothing, has no gate
    assert gates["born_digital"] == gates["scanned"] and gates["scanned"].limit == 2  # one server: one gate
    assert gates["einvoice"].limit == 3 and gates["einvoice"].name != gates["scanned"].name
    assert engine_gates(Config()) == {}


# --- through the chain ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scans_replayed() -> Context:
    """Scans read by the replay engine; born-digital PDFs (and e-invoices) by [engine], ocr."""
    return Context.create(routed(scanned=REPLAY))


def test_a_born_digital_pdf_and_its_scan_are_read_by_their_routes_engines(
    samples: Path, scans_replayed: Context
) -> None:
    ctx = scans_replayed
    scan = process_file(samples / SCAN, ctx)
    assert _route(scan) == {"name": "scanned", "kind": "scanned", "engine": "replay", "model": None}
    assert scan.provenance["engine"]["engine"] == "replay" and "ocr" not in scan.timings  # the recorded words
    assert sorted(ctx.engines) == ["scanned"]  # created when its first document came; [engine]'s not yet
    pdf = process_file(samples / BORN_DIGITAL, ctx)
    assert _route(pdf) == {"name": "default", "kind": "born_digital", "engine": "ocr", "model": None}
    assert pdf.provenance["engine"]["engine"] == "ocr" and pdf.provenance["pages"][0]["text_source"] == "text_layer"
    assert sorted(ctx.engines) == ["default", "scanned"]
    for result in (scan, pdf):
        assert result.doc_type == "invoice" and result.data["invoice_number"] == pdf.data["invoice_number"]
    report = Report()  # eval: each prediction names its route, the report counts documents per route
    for path, result in ((samples / SCAN, scan), (samples / BORN_DIGITAL, pdf)):
        report.add(
            Case("samples", path, path.name, "invoice", {"invoice_number": pdf.data["invoice_number"]}), result, 1.0
        )
    assert [row["route"]["name"] for row in report.predictions] == ["scanned", "default"]
    assert report.summary(2.0)["routes"] == {"default: ocr": 1, "scanned: replay": 1}
    assert "Read by route: default: ocr (1 document); scanned: replay (1 document)." in _markdown(report, 2.0)


def test_without_routes_nothing_changes(samples: Path, context: Context) -> None:
    result = process_file(samples / BORN_DIGITAL, context)
    assert "route" not in result.provenance and "route" not in result.timings
    assert result.provenance["engine"]["engine"] == "ocr"


def test_a_document_that_fails_before_its_route_names_no_engine(tmp_path: Path, scans_replayed: Context) -> None:
    (tmp_path / "empty.pdf").write_bytes(b"")
    result = process_file(tmp_path / "empty.pdf", scans_replayed)
    assert result.issues[0].code == "empty_file"
    assert result.provenance["engine"] == {"engine": None, "model": None} and "route" not in result.provenance


def _embed(pdf_path: Path, xml: bytes, out: Path) -> Path:
    """A copy of the PDF carrying the invoice XML as factur-x.xml (as Factur-X does)."""
    pdf = pdfium.PdfDocument(str(pdf_path))
    pdf.new_attachment("factur-x.xml").set_data(xml)
    pdf.save(str(out))
    pdf.close()
    return out


def test_e_invoices_take_their_own_route(samples: Path, tmp_path: Path) -> None:
    from fixtures.samples.einvoice_xml import cii_xml, ubl_xml
    from fixtures.samples.einvoices import xrechnung_cii_spec, xrechnung_ubl_spec

    ctx = Context.create(routed(born_digital=REPLAY, scanned=REPLAY, einvoice={"name": "ocr"}))
    pdf = process_file(
        _embed(samples / "invoice_en_gb.pdf", cii_xml(xrechnung_cii_spec(random.Random(3))), tmp_path / "facturx.pdf"),
        ctx,
    )
    assert pdf.provenance["einvoice"]["attachment"] == "factur-x.xml" and pdf.provenance["einvoice"]["syntax"] == "CII"
    assert _route(pdf) == {"name": "einvoice", "kind": "einvoice", "engine": "ocr", "model": None}
    (tmp_path / "rechnung.xml").write_bytes(ubl_xml(xrechnung_ubl_spec(random.Random(1))))
    xml = process_file(tmp_path / "rechnung.xml", Context.create(routed(einvoice=REPLAY)))
    assert xml.doc_type == "invoice" and xml.data["total_amount"]
    assert _route(xml) == {"name": "einvoice", "kind": "einvoice", "engine": "xml", "model": None}


def test_each_route_holds_the_gate_of_its_own_engine(
    samples: Path, scans_replayed: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ledgerlens.flows import scale
    from ledgerlens.pipeline.engines import ModelGate

    held: list[str] = []

    @contextmanager
    def slot(gate: ModelGate) -> Iterator[None]:
        held.append(gate.name)
        yield

    monkeypatch.setattr(scale, "_slot", slot)
    gates = {"scanned": ModelGate("ledgerlens-scans", 1), "default": ModelGate("ledgerlens-default", 2)}
    process_file(samples / SCAN, scans_replayed, runner=scale.gated(gates))
    process_file(samples / BORN_DIGITAL, scans_replayed, runner=scale.gated(gates))
    assert held == ["ledgerlens-scans", "ledgerlens-default"]  # one extract each, behind its route's gate


# --- the commands --------------------------------------------------------------------------------

ROUTES_TOML = f"""
[engine.routes.scanned]
name = "replay"
[engine.routes.scanned.options]
recordings = "{RECORDINGS}"
"""


def _books(tmp_path: Path, samples: Path, recordings: Path, *names: str) -> Path:
    """A workspace whose scans are routed to the replay engine (recordings in `recordings`), with
    these samples waiting in intake/."""
    ws = tmp_path / "books"
    main(["init", str(ws)])
    toml = ws / "ledgerlens.toml"
    toml.write_text(toml.read_text() + ROUTES_TOML.replace(str(RECORDINGS), str(recordings)))
    for name in names:
        shutil.copy(samples / name, ws / "intake")
    return ws


def test_process_refuses_a_routed_engine_that_is_not_there_before_claiming_a_file(
    samples: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = _books(tmp_path, samples, tmp_path / "gone", SCAN)
    assert main(["process", str(ws / "intake")]) == 2
    err = capsys.readouterr().err
    assert "[engine.routes.scanned] no folder of recordings" in err and "Traceback" not in err
    assert [p.name for p in (ws / "intake").iterdir()] == [SCAN] and not any((ws / "processing").iterdir())


@pytest.mark.prefect
def test_show_says_which_route_read_a_document(
    samples: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = _books(tmp_path, samples, RECORDINGS, BORN_DIGITAL, SCAN)
    assert main(["process", str(ws / "intake")]) == 0
    capsys.readouterr()
    assert main(["show", SCAN, "--workspace", str(ws)]) == 0
    assert "Read by route scanned: replay (input kind scanned)" in capsys.readouterr().out
    assert main(["show", BORN_DIGITAL, "--workspace", str(ws)]) == 0
    assert "Read by route default: ocr (input kind born_digital)" in capsys.readouterr().out


def test_the_review_screen_says_which_route_read_a_document(
    samples: Path, tmp_path: Path, scans_replayed: Context
) -> None:
    from ledgerlens.pipeline.books.store import Store
    from ledgerlens.pipeline.intake.workspace import init_workspace
    from starlette.testclient import TestClient

    from ledgerlens.web.app import create_app
    from ledgerlens.web.security import Access

    ws = init_workspace(tmp_path / "books")
    shutil.copy(samples / SCAN, ws.done / SCAN)
    result = process_file(ws.done / SCAN, scans_replayed)
    result.source_path = f"done/{SCAN}"
    store = Store.for_workspace(ws.root)
    try:
        doc_id = store.save(result)
        app = create_app(ws, Config(), Access.build("127.0.0.1", "alice"), store=store)
        page = TestClient(app, base_url="http://127.0.0.1:8765").get(f"/documents/{doc_id}").text
    finally:
        store.close()
    assert "read by scanned: replay" in page


def test_an_engine_named_on_the_command_line_reads_every_document() -> None:
    from argparse import Namespace

    from ledgerlens.commands.common import with_engine_args

    config = routed(scanned=REPLAY)
    assert with_engine_args(config, Namespace(engine="replay")).engine.routes == {}
    kept = with_engine_args(config, Namespace(engine=None, quant="int8")).engine
    assert kept.routes == config.engine.routes and kept.options == {"quantization": "int8"}
