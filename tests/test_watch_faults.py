"""Fault injection: `ledgerlens watch` is killed with SIGKILL at random points, restarted, and in
the end every input is exactly once in done/ or failed/ and exactly once in the store.

23 inputs: born-digital and scanned documents (tests/fixtures/generate.py), broken files
(tests/fixtures/bad_inputs.py), a second copy of one document, one in a type sub-folder and a
symlink; five of them arrive only after the second kill. The watcher runs as a subprocess in its
own process group against a real Prefect server. Four kills: the first while it starts, the others
while documents are in flight (after one has finished since the restart, plus a random delay);
three kill the whole process group (the service and its flow-run and worker processes, as a crash
or power cut would), one kills only the service's main process, leaving its flow run orphaned.
Set LEDGERLENS_FAULT_SEED to replay a run.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import shutil
import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prefect_server import prefect_server, start_watch, stop_watch
from replay import use_replay

pytestmark = [pytest.mark.prefect, pytest.mark.slow]

GOOD = [
    "invoice_en_gb.pdf",
    "invoice_es.pdf",
    "invoice_fr.pdf",
    "credit_note_en_ie.pdf",
    "receipt_gb_cafe.pdf",
    "letter_en_unknown.pdf",
    "invoice_de_2pages.pdf",
    "invoice_en_gb.scan.png",
    "receipt_gb_cafe.scan.png",
    "receipt_de_supermarket.scan.png",
    "invoice_fr.scan.png",
    "receipt_my_sroie.photo.jpg",
]
BAD = [
    "empty.pdf",
    "truncated.pdf",
    "garbage.pdf",
    "password.pdf",
    "letter.docx",
    "bomb.png",
    "truncated.jpg",
    "notes.pdf",
]
IN_SUB_FOLDER = "receipts/receipt_us_hardware.pdf"
COPY = "invoice_en_gb (copy).pdf"
LINK = "link.pdf"
LATE = {"invoice_fr.scan.png", "notes.pdf", "receipt_my_sroie.photo.jpg", COPY, "truncated.jpg"}
KILLS = 4  # fewer than MAX_STARTS: no good document may be failed as "interrupted"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def inputs(samples: Path, tmp_path: Path) -> dict[str, Path]:
    """Every input by its path relative to intake/, staged outside the workspace."""
    from fixtures.bad_inputs import make_bad_inputs

    bad = tmp_path / "bad"
    make_bad_inputs(bad)
    staged = tmp_path / "staged"
    files = {name: samples / name for name in GOOD} | {name: bad / name for name in BAD}
    files[IN_SUB_FOLDER] = samples / "receipt_us_hardware.pdf"
    files[COPY] = samples / "invoice_en_gb.pdf"
    out = {}
    for rel, source in files.items():
        (staged / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, staged / rel)
        out[rel] = staged / rel
    secret = tmp_path / "outside.pdf"
    shutil.copy(samples / "invoice_es.pdf", secret)
    os.symlink(secret, staged / LINK)
    out[LINK] = staged / LINK
    assert len(out) >= 20
    return out


def _drop(ws: Any, inputs: dict[str, Path], names: set[str]) -> None:
    for rel in sorted(names):
        target = ws.intake / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if inputs[rel].is_symlink():
            os.symlink(os.readlink(inputs[rel]), target)
        else:
            tmp = target.with_name(target.name + ".part")  # as a careful copier writes
            shutil.copy(inputs[rel], tmp)
            os.replace(tmp, target)


def _settled(ws: Any) -> int:
    return sum(1 for folder in (ws.done, ws.failed) for p in folder.iterdir() if not p.name.endswith(".json"))


def _states(ws: Any) -> dict[str, int]:
    from ledgerlens.pipeline.books.store import Store
    from ledgerlens.pipeline.intake.journal import Journal

    store = Store.for_workspace(ws.root)
    try:
        return Journal(store).counts()
    finally:
        store.close()


def _wait(condition: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(0.2)


@pytest.fixture
def groups() -> Iterator[list[int]]:
    """Process groups started by the test: whatever is left of them is killed at the end."""
    started: list[int] = []
    yield started
    for pgid in started:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)


def test_kill_9_at_random_points_loses_nothing_and_books_nothing_twice(
    inputs: dict[str, Path], tmp_path: Path, groups: list[int]
) -> None:
    from ledgerlens.pipeline.books.store import Store
    from ledgerlens.pipeline.intake.journal import OPEN, Journal
    from ledgerlens.pipeline.intake.workspace import init_workspace, list_inputs

    seed = int(os.environ.get("LEDGERLENS_FAULT_SEED", random.randrange(1 << 30)))
    print(f"LEDGERLENS_FAULT_SEED={seed}")
    rng = random.Random(seed)
    ws = init_workspace(tmp_path / "books")
    use_replay(ws.root)  # the documents are payload: their recorded reading, no Tesseract in the workers
    _drop(ws, inputs, set(inputs) - LATE)
    log = tmp_path / "watch.log"
    with prefect_server(tmp_path / "prefect-home") as url:
        home = tmp_path / "prefect-home"
        for kill in range(KILLS):
            proc = start_watch(ws.root, url, home, log, "--workers", "2")
            groups.append(proc.pid)
            before = _settled(ws)
            if kill == 0:
                time.sleep(rng.uniform(1.0, 6.0))  # while it starts, recovers and claims
            else:
                _wait(
                    lambda p=proc, n=before: _settled(ws) > n or p.poll() is not None, 300, "progress after a restart"
                )
                time.sleep(rng.uniform(0.0, 1.5))
            assert proc.poll() is None, log.read_text()[-3000:]
            if kill == 2:
                os.kill(proc.pid, signal.SIGKILL)  # the service only: its flow run goes on, orphaned
            else:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            print(f"kill {kill + 1}: {_settled(ws)} of {len(inputs)} settled; journal {_states(ws)}")
            if kill == 1:
                _drop(ws, inputs, LATE)

        proc = start_watch(ws.root, url, home, log, "--workers", "2")
        groups.append(proc.pid)
        store = Store.for_workspace(ws.root)
        journal = Journal(store)

        def finished() -> bool:
            return not list_inputs(ws.intake) and not journal.rows(OPEN) and not list_inputs(ws.processing)

        _wait(finished, 600, "every input to be done or failed")
        stop_watch(proc)
        rows = journal.rows()
        documents = store.all()
        store.close()

    _assert_every_input_once(ws, inputs, rows, documents)


def _assert_every_input_once(ws: Any, inputs: dict[str, Path], rows: list[Any], documents: list[Any]) -> None:
    landed = [p for folder in (ws.done, ws.failed) for p in folder.iterdir() if not p.name.endswith(".json")]
    settled = {p.name: p for p in landed}
    names = Counter(Path(rel).name for rel in inputs)
    # Each input exactly once in done/ or failed/, under its own name (no name was taken twice),
    # with its bytes intact; nothing left anywhere else.
    assert Counter(p.name for p in landed) == names, sorted(set(settled) ^ set(names))
    for rel, source in inputs.items():
        there = settled[Path(rel).name]
        if source.is_symlink():
            assert there.is_symlink() and os.readlink(there) == os.readlink(source)
        else:
            assert _sha(there) == _sha(source), rel
    assert list_files(ws.intake) == [] and list_files(ws.processing) == []

    in_failed = {p.name for p in ws.failed.iterdir() if not p.name.endswith(".json")}
    assert in_failed == {*BAD, LINK}, "good documents in failed/: " + ", ".join(
        f"{n}: {json.loads((ws.failed / (n + '.error.json')).read_text())['reason']}" for n in in_failed - {*BAD, LINK}
    )
    for name in in_failed:
        assert json.loads((ws.failed / f"{name}.error.json").read_text(encoding="utf-8"))["reason"]
    assert (ws.done / f"{COPY}.duplicate.json").exists() or (ws.done / "invoice_en_gb.pdf.duplicate.json").exists()

    # Each input exactly once in the journal, settled; its bytes exactly once in the store.
    final = [r for r in rows if r.state in ("done", "failed", "duplicate")]
    assert sorted(r.name for r in final) == sorted(names.elements())
    assert not [r for r in rows if r not in final], [(r.name, r.state) for r in rows if r not in final]
    assert Counter(r.state for r in final)["duplicate"] == 1
    shas = Counter(d.result.sha256 for d in documents)
    assert all(n == 1 for n in shas.values())
    regular = {_sha(p) for p in inputs.values() if not p.is_symlink()}
    assert set(shas) == regular  # the copy shares its original's row; the link was never read


def list_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if not p.is_dir() and not p.name.startswith(".")]
