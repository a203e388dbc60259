"""PostgreSQL for more than one writer: the result store and a Prefect server on a real PostgreSQL
(Debian's package, a fresh cluster per test session), and two Dask workers processing one intake
that never book a document twice."""

from __future__ import annotations

import os
import shutil
import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from replay import replay_toml

pytest.importorskip("psycopg")

from postgres_server import Postgres, binaries, postgres_server

pytestmark = [pytest.mark.prefect, pytest.mark.slow]


@pytest.fixture(scope="module")
def postgres() -> Any:
    if binaries() is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed: `make apt-test` installs Debian's postgresql")
        pytest.skip("PostgreSQL server binaries not installed (apt-get install postgresql)")
    with postgres_server() as pg:
        yield pg


def _result(sha: str, name: str, total: str) -> Any:
    from ledgerlens.pipeline.types import DocumentResult, Status

    return DocumentResult(
        sha256=sha,
        source_name=name,
        media_type="application/pdf",
        page_count=1,
        doc_type="invoice",
        status=Status.OK,
        data={"total_amount": total},
        issues=[],
        confidence={"total_amount": 0.9},
        provenance={"at": datetime.now(UTC).isoformat()},
        timings={},
    )


def test_the_store_on_postgresql_keeps_one_row_per_document_under_concurrent_writers(postgres: Postgres) -> None:
    from ledgerlens.pipeline.books.store import Store

    store = Store(postgres.url(postgres.create_database("store_threads")))
    try:
        barrier = threading.Barrier(8)

        def write(i: int) -> None:
            barrier.wait()  # every thread inserts at once: the same sha256 from four of them
            store.save(_result("a" * 64 if i % 2 else f"{i:064x}", f"doc{i}.pdf", f"{i}.00"))

        threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        rows = store.all()
        assert len(rows) == 5  # four distinct documents + one written four times
        assert sorted(d.attempts for d in rows) == [1, 1, 1, 1, 4]
        assert store.get_by_sha("a" * 64).result.data["total_amount"] in {"1.00", "3.00", "5.00", "7.00"}
    finally:
        store.close()


def test_two_dask_workers_on_postgresql_never_book_a_document_twice(postgres: Postgres, samples, tmp_path) -> None:
    """`ledgerlens watch --workers 2 --task-runner dask` serving a Prefect server on PostgreSQL, the
    store on PostgreSQL; the intake holds three copies of one invoice among eight documents."""
    from ledgerlens.pipeline.books.store import Store
    from ledgerlens.pipeline.intake.journal import DONE, DUPLICATE, FAILED, Journal
    from ledgerlens.pipeline.intake.workspace import init_workspace
    from prefect_server import api, finished_flow_runs, prefect_server, stop_watch, wait_for, watching

    store_url = postgres.url(postgres.create_database("ledgerlens"))
    prefect_db = postgres.url(postgres.create_database("prefect"), driver="asyncpg")
    ws = init_workspace(tmp_path / "books")
    ws.config_path.write_text(f'[store]\nurl = "{store_url}"\n\n' + replay_toml())  # documents are payload
    pdfs = sorted(samples.glob("*.pdf"))[:8]
    for pdf in pdfs:
        shutil.copy(pdf, ws.intake / pdf.name)
    (ws.intake / "scans").mkdir()
    shutil.copy(samples / "invoice_en_gb.pdf", ws.intake / "copy of invoice.pdf")
    shutil.copy(samples / "invoice_en_gb.pdf", ws.intake / "scans" / "invoice_en_gb.pdf")
    files = len(pdfs) + 2
    home = tmp_path / "prefect"
    with prefect_server(home, PREFECT_API_DATABASE_CONNECTION_URL=prefect_db) as url:
        log = tmp_path / "watch.log"
        with watching(ws.root, url, home, log, "--workers", "2", "--task-runner", "dask") as proc:
            wait_for(lambda: _settled(store_url) == files, 300, f"{files} files settled", log)
            flow_runs = wait_for(lambda: finished_flow_runs(url), 120, "the flow run to end", log)
            stop_watch(proc)
        runs = api(url, "/task_runs/filter", {"limit": 200})
    store = Store(store_url)
    try:
        documents = store.all()
        journal = Journal(store).rows()
    finally:
        store.close()
    assert {r["parameters"]["task_runner"] for r in flow_runs} == {"dask"}
    # the store: one row per distinct document, each processed once
    shas = {d.result.sha256 for d in documents}
    assert len(documents) == len(shas) == len(pdfs)
    assert all(d.attempts == 1 for d in documents)
    # the intake journal: every file once, the two extra copies as duplicates of the booked one
    assert len(journal) == files
    states = [row.state for row in journal]
    assert states.count(DUPLICATE) == 2 and states.count(DONE) + states.count(FAILED) == len(pdfs)
    assert all(row.tries == 1 for row in journal)
    assert not any(ws.intake.rglob("*.pdf")) and not list(ws.processing.iterdir())
    # the Prefect server on PostgreSQL saw one task run per file, each run once
    names = [r["name"] for r in runs if r["state_type"] in ("COMPLETED", "FAILED")]
    assert len(names) == files and {r["run_count"] for r in runs} == {1}


def _settled(store_url: str) -> int:
    from ledgerlens.pipeline.books.store import Store
    from ledgerlens.pipeline.intake.journal import OUTCOMES, Journal

    try:
        store = Store(store_url)
    except Exception:  # the watcher has not created the tables yet
        return 0
    try:
        return sum(1 for row in Journal(store).rows(OUTCOMES))
    finally:
        store.close()
