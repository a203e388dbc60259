"""`ledgerlens watch` against a real Prefect server: the test starts `prefect server start` on a
free loopback port, drops two good documents and a truncated PDF into intake/, lets the served
flow process them, stops the watcher, and reads what Prefect recorded over its REST API.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prefect_server import api, finished_flow_runs, prefect_server, stop_watch, wait_for, watching
from replay import use_replay

pytestmark = [pytest.mark.prefect, pytest.mark.slow]

INVOICE = "invoice_en_gb.pdf"
SCAN = "receipt_gb_cafe.scan.png"
CORRUPT = "truncated.pdf"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    home = tmp_path_factory.mktemp("prefect-home")
    with prefect_server(home) as url:
        yield url, home


@pytest.fixture(scope="module")
def watched(server: tuple[str, Path], samples: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from fixtures.bad_inputs import make_bad_inputs
    from ledgerlens.pipeline.intake.workspace import init_workspace

    url, home = server
    ws = init_workspace(tmp_path_factory.mktemp("books"))
    use_replay(ws.root)  # the documents are payload: their recorded reading
    bad = tmp_path_factory.mktemp("bad")
    make_bad_inputs(bad)
    shutil.copy(samples / INVOICE, ws.intake / INVOICE)
    shutil.copy(samples / SCAN, ws.intake / SCAN)
    shutil.copy(bad / CORRUPT, ws.intake / CORRUPT)
    log = ws.root.parent / "watch.log"
    with watching(ws.root, url, home, log) as proc:
        wait_for(
            lambda: (ws.failed / f"{CORRUPT}.error.json").exists() and len(list(ws.done.iterdir())) == 2,
            300,
            "the files",
        )
        # The batch run ends once nothing more arrives for --linger seconds.
        flow_runs = wait_for(lambda: finished_flow_runs(url), 120, "the flow run to finish")
        stop_watch(proc)
    return {"ws": ws, "url": url, "flow_runs": flow_runs, "returncode": proc.returncode, "log": log.read_text()}


def _task_run(url: str, name: str) -> dict[str, Any]:
    runs = api(url, "/task_runs/filter", {"task_runs": {"name": {"any_": [name]}}})
    assert len(runs) == 1, f"{len(runs)} task runs named {name}"
    return dict(runs[0])


def test_the_failed_document_is_a_failed_run_named_after_it_with_the_reason(watched: dict[str, Any]) -> None:
    note = json.loads((watched["ws"].failed / f"{CORRUPT}.error.json").read_text(encoding="utf-8"))
    run = _task_run(watched["url"], CORRUPT)
    assert run["state"]["type"] == "FAILED"
    assert run["state"]["message"] == f"{CORRUPT}: {note['reason']}"
    assert note["code"] == "corrupt_pdf"


def test_the_good_documents_are_completed_runs(watched: dict[str, Any]) -> None:
    for name in (INVOICE, SCAN):
        run = _task_run(watched["url"], name)
        assert run["state"]["type"] == "COMPLETED", name
        assert run["state"]["message"].startswith(f"{name}: ")


def test_the_documents_ran_in_a_run_of_the_served_deployment(watched: dict[str, Any]) -> None:
    from ledgerlens.flows.watch import deployment_name
    from ledgerlens.pipeline.intake.workspace import Workspace

    url = watched["url"]
    (deployment,) = api(url, "/deployments/filter", {})
    assert deployment["name"] == deployment_name(Workspace(watched["ws"].root))
    flow = api(url, f"/flows/{deployment['flow_id']}")
    assert flow["name"] == "process-intake"
    run_ids = {r["id"] for r in watched["flow_runs"] if r["deployment_id"] == deployment["id"]}
    assert _task_run(url, CORRUPT)["flow_run_id"] in run_ids
    assert all(r["state"]["type"] == "COMPLETED" for r in watched["flow_runs"])  # a failed document is not a failed run


def test_each_document_has_an_artifact_with_its_fields_or_its_reason(watched: dict[str, Any]) -> None:
    artifacts = {a["description"]: a for a in api(watched["url"], "/artifacts/filter", {})}
    assert set(artifacts) == {INVOICE, SCAN, CORRUPT}
    invoice = artifacts[INVOICE]
    assert invoice["type"] == "markdown" and invoice["task_run_id"] == _task_run(watched["url"], INVOICE)["id"]
    assert "| invoice_number |" in invoice["data"] and "**done** (" in invoice["data"]
    corrupt = artifacts[CORRUPT]["data"]
    assert "**failed**" in corrupt and "corrupt_pdf" in corrupt


def test_the_watcher_stops_cleanly_on_sigterm(watched: dict[str, Any]) -> None:
    assert watched["returncode"] in (0, 130), watched["log"][-3000:]
    assert "Traceback" not in watched["log"], watched["log"][-3000:]
