"""The Prefect UI, as a person sees it in a browser: headless Chromium renders the runs page of a
real Prefect server after `ledgerlens process` met a corrupt document, and the document's name,
its Failed state and the reason are on the page. Screenshots are kept in build/test-artifacts/
(and the pytest tmp dir) for a person to look at.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chromium import Chromium, find_chromium
from prefect_server import api, env, prefect_server
from replay import use_replay

pytestmark = [pytest.mark.browser, pytest.mark.prefect, pytest.mark.slow]

ARTIFACTS = Path(__file__).resolve().parents[1] / "build" / "test-artifacts"
GOOD = "receipt_gb_cafe.pdf"
CORRUPT = "garbage.pdf"


@pytest.fixture(scope="module")
def processed(samples: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from fixtures.bad_inputs import make_bad_inputs
    from ledgerlens.pipeline.intake.workspace import init_workspace

    home = tmp_path_factory.mktemp("prefect-home")
    ws = init_workspace(tmp_path_factory.mktemp("books"))
    use_replay(ws.root)  # the documents are payload: their recorded reading
    bad = tmp_path_factory.mktemp("bad")
    make_bad_inputs(bad)
    shutil.copy(samples / GOOD, ws.intake / GOOD)
    shutil.copy(bad / CORRUPT, ws.intake / CORRUPT)
    with prefect_server(home) as url:
        done = subprocess.run(
            [sys.executable, "-m", "ledgerlens.cli", "process", str(ws.intake)],
            env=env(url, home),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        (task_run,) = api(url, "/task_runs/filter", {"task_runs": {"name": {"any_": [CORRUPT]}}})
        yield {"url": url.removesuffix("/api"), "task_run": task_run, "shots": tmp_path_factory.mktemp("shots")}


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Chromium]:
    binary = find_chromium()
    assert binary, "Chromium is missing: `make install` installs Debian's chromium package"
    chromium = Chromium(binary, tmp_path / "profile")  # a fresh profile every time
    yield chromium
    chromium.close()


def _keep(browser: Chromium, shots: Path, name: str) -> Path:
    shot = browser.screenshot(shots / name)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, ARTIFACTS / name)
    assert shot.stat().st_size > 10_000  # a drawn page, not a blank one
    return shot


def test_the_runs_page_lists_the_failed_document_by_name(processed: dict[str, Any], browser: Chromium) -> None:
    browser.goto(f"{processed['url']}/runs?tab=task-runs")
    text = browser.wait_for_text(CORRUPT, "Failed", GOOD)
    assert "Can't connect to Server API" not in text
    _keep(browser, processed["shots"], "prefect-ui-runs.png")
    assert CORRUPT in browser.html()  # in the DOM itself, not only in rendered text


def test_the_failed_documents_page_shows_the_reason(processed: dict[str, Any], browser: Chromium) -> None:
    run = processed["task_run"]
    reason = run["state"]["message"].split(": ", 1)[1]
    browser.goto(f"{processed['url']}/runs/task-run/{run['id']}")
    browser.wait_for_text(CORRUPT, "Failed", reason)
    _keep(browser, processed["shots"], "prefect-ui-failed-document.png")
