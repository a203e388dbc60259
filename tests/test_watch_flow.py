"""The processing flow's own behaviour on the ephemeral API: transient failures retried by Prefect
with back-off (deterministic ones never), one task run per document, and `process` refusing a
workspace that `watch` is serving."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ledgerlens.pipeline.books.store import Store
from ledgerlens.pipeline.errors import DocumentError
from ledgerlens.pipeline.intake import jobs as jobs_module
from ledgerlens.pipeline.intake.journal import Journal
from ledgerlens.pipeline.intake.workspace import Workspace, init_workspace, workspace_lock
from replay import use_replay

pytestmark = pytest.mark.prefect

RECEIPT = "receipt_gb_cafe.pdf"


def _flaky(failures: int) -> Callable[..., Any]:
    """process_file whose extract stage times out `failures` times, then works."""
    real = jobs_module.process_file
    calls = {"n": 0}

    def process_file(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] > failures:
            return real(*args, **kwargs)
        inner = kwargs.pop("runner")

        def runner(stage: str, fn: Callable[..., Any], *a: Any, **k: Any) -> Any:
            if stage == "extract":
                raise DocumentError("server_timeout", "The model server did not answer.", stage=stage, transient=True)
            return inner(stage, fn, *a, **k)

        return real(*args, runner=runner, **kwargs)

    return process_file


def _task_run(name: str) -> Any:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterName

    deadline = time.monotonic() + 30
    with get_client(sync_client=True) as client:
        while True:
            runs = client.read_task_runs(task_run_filter=TaskRunFilter(name=TaskRunFilterName(any_=[name])))
            if runs and runs[0].state and runs[0].state.is_final():
                return runs[0]
            assert time.monotonic() < deadline, f"no final task run named {name}"
            time.sleep(0.5)


def _books(tmp_path: Path, samples: Path, name: str, *, replay: bool = True) -> Workspace:
    ws = init_workspace(tmp_path / "books")
    if replay:
        use_replay(ws.root)  # the receipt is payload: its recorded reading, no Tesseract
    shutil.copy(samples / RECEIPT, ws.intake / name)
    return ws


def _run(ws: Workspace, **kwargs: Any) -> dict[str, int]:
    from ledgerlens.flows.process import process_documents

    files = [str(p) for p in sorted(ws.intake.iterdir())]
    return process_documents(files, str(ws.root), ws.config(), workers=1, backoff_s=0.1, **kwargs)


def test_a_transient_failure_is_retried_and_then_booked_once(
    tmp_path: Path, samples: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = _books(tmp_path, samples, "flaky-server.pdf")
    monkeypatch.setattr(jobs_module, "process_file", _flaky(failures=2))
    summary = _run(ws, max_tries=3)
    assert summary["ok"] == 1 and summary["failed"] == 0
    run = _task_run("flaky-server.pdf")
    assert run.state.is_completed() and run.run_count == 3  # two retries, in the same task run
    store = Store.for_workspace(ws.root)
    (row,) = Journal(store).rows()
    (doc,) = store.all()
    store.close()
    assert (row.state, row.tries, doc.attempts) == ("done", 3, 3)


def test_a_failure_that_stays_transient_fails_after_its_tries(
    tmp_path: Path, samples: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = _books(tmp_path, samples, "server-down.pdf")
    monkeypatch.setattr(jobs_module, "process_file", _flaky(failures=99))
    assert _run(ws, max_tries=2)["failed"] == 1
    run = _task_run("server-down.pdf")
    assert run.state.is_failed() and run.run_count == 2
    assert run.state.message == "server-down.pdf: The model server did not answer."
    note = json.loads((ws.failed / "server-down.pdf.error.json").read_text(encoding="utf-8"))
    assert (note["code"], note["transient"], note["attempts"]) == ("server_timeout", True, 2)


def test_a_deterministic_failure_is_not_retried(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "books")
    (ws.intake / "not-a-pdf.pdf").write_bytes(b"plain words, no document")
    assert _run(ws, max_tries=3)["failed"] == 1
    assert _task_run("not-a-pdf.pdf").run_count == 1


def test_process_refuses_a_workspace_that_watch_is_serving(
    tmp_path: Path, samples: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ledgerlens.cli import main

    ws = _books(tmp_path, samples, RECEIPT)
    with workspace_lock(ws, "claim"):  # what `ledgerlens watch` holds
        assert main(["process", str(ws.intake)]) == 2
    assert "is serving" in capsys.readouterr().err
    assert (ws.intake / RECEIPT).exists()  # untouched: the watcher will take it


def test_watch_says_clearly_when_the_prefect_api_does_not_answer() -> None:
    from ledgerlens.flows.watch import check_api
    from ledgerlens.pipeline.errors import ConfigError
    from prefect.settings import PREFECT_API_URL, temporary_settings
    from prefect_server import free_port

    url = f"http://127.0.0.1:{free_port()}/api"  # nothing listens there
    with temporary_settings({PREFECT_API_URL: url}), pytest.raises(ConfigError, match=r"does not answer.*make ui"):
        check_api(timeout_s=0.5)


def test_a_model_that_is_not_installed_is_said_before_any_file_moves(
    tmp_path: Path, samples: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from huggingface_hub import constants

    from ledgerlens.cli import main

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    ws = _books(tmp_path, samples, RECEIPT, replay=False)
    assert main(["process", str(ws.intake), "--engine", "transformers", "--model", "qwen2-vl-2b"]) == 2
    err = capsys.readouterr().err
    assert "ledgerlens models pull qwen2-vl-2b" in err and "Traceback" not in err
    assert (ws.intake / RECEIPT).exists() and not any(ws.processing.iterdir())


def test_a_task_that_breaks_keeps_its_document_queued_and_says_why(
    tmp_path: Path, samples: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not the document's fault (a worker that cannot start): it is not failed, it waits in
    processing/ with the reason reported, `process` exits 1, and the next run books it."""
    from ledgerlens.flows import workers

    from ledgerlens.cli import main

    ws = _books(tmp_path, samples, RECEIPT)

    def broken_worker(*args: Any) -> Any:
        raise MemoryError("no memory left to start a worker")

    monkeypatch.setattr(workers, "worker_for", broken_worker)
    summary = _run(ws)
    assert summary["processed"] == 0 and summary["failed"] == 0
    (line,) = summary["broken"]
    assert line.startswith(f"{RECEIPT}: ") and "MemoryError" in line and "no memory left to start a worker" in line
    assert [p.name for p in ws.processing.iterdir()] == [RECEIPT]
    capsys.readouterr()
    assert main(["process", str(ws.root), "--workers", "1"]) == 1  # one worker: in this process, patched
    out = capsys.readouterr().out
    assert "not processed" in out and "no memory left to start a worker" in out and "ledgerlens process" in out
    assert "Documents" not in out  # no empty results table
    monkeypatch.undo()
    assert main(["process", str(ws.root), "--workers", "1"]) == 0  # intake is empty: processing/ is not
    out = capsys.readouterr().out
    assert "1 document(s) left in" in out and RECEIPT in out and "20.41" in out
    assert [p.name for p in ws.done.iterdir()] == [RECEIPT]


def _api_url_here() -> str:
    from prefect.settings import get_current_settings

    return str(get_current_settings().api.url)


def test_worker_processes_report_to_the_runs_own_api() -> None:
    """On the ephemeral API, a worker process must not start an API server of its own."""
    from ledgerlens.flows.process import _task_runner
    from ledgerlens.flows.scale import ON_THIS_MACHINE, _api_url
    from prefect import flow, task

    api_url_here = task(_api_url_here, name="api url")

    @flow
    def two_workers() -> tuple[str, list[str]]:
        with _task_runner(2, ON_THIS_MACHINE) as runner:
            futures = [runner.submit(api_url_here, {}) for _ in range(2)]
            return _api_url(), [f.result() for f in futures]

    own, reported = two_workers()
    assert own.startswith("http://127.0.0.1:") and reported == [own, own]


def test_process_refuses_the_folders_it_moves_files_into(
    tmp_path: Path, samples: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ledgerlens.cli import main

    ws = _books(tmp_path, samples, RECEIPT)
    shutil.move(ws.intake / RECEIPT, ws.failed / RECEIPT)
    assert main(["process", str(ws.failed)]) == 2
    assert "ledgerlens retry" in capsys.readouterr().err
    assert main(["process", str(ws.processing)]) == 2
    assert [p.name for p in ws.failed.iterdir()] == [RECEIPT]


def test_a_path_in_processing_is_not_claimed_twice(
    tmp_path: Path, samples: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Handed to the flow again, a document queued in processing/ runs once, under its own name."""
    from ledgerlens.flows import process as flow_module
    from ledgerlens.flows import workers

    ws = _books(tmp_path, samples, RECEIPT)
    monkeypatch.setattr(workers, "worker_for", lambda *args: 1 / 0)  # the first run leaves it queued
    assert _run(ws)["broken"]
    monkeypatch.undo()
    summary = flow_module.process_documents([str(ws.processing / RECEIPT)], str(ws.root), ws.config(), workers=1)
    assert summary["ok"] == 1 and not summary["broken"]
    assert [p.name for p in ws.done.iterdir()] == [RECEIPT]


def test_pool_workers_end_when_the_process_that_owns_them_is_killed() -> None:
    """The pool outlives a run: a flow run killed by a signal must not leave its workers behind."""
    import signal
    import subprocess
    import sys

    script = (
        "import os, signal\n"
        "from ledgerlens.flows.workers import WorkerPool\n"
        "print(WorkerPool._pool(1).submit(os.getpid).result(), flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    worker = int(proc.stdout.strip())
    deadline = time.monotonic() + 30
    while Path(f"/proc/{worker}").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not Path(f"/proc/{worker}").exists(), f"worker {worker} outlived its pool's owner"
