"""Scale-out: the flow on a Dask LocalCluster gives the sequential run's results, and the model
gate (a Prefect global concurrency limit) holds a model server to its limit across processes."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from ledgerlens.pipeline.errors import ConfigError
from replay import use_replay

pytest.importorskip("prefect_dask")

pytestmark = [pytest.mark.prefect, pytest.mark.slow]

N_DOCUMENTS = 20


def _documents(samples: Path) -> list[Path]:
    """20 fixture documents: born-digital PDFs and scanned copies (PNG, TIFF, JPEG) of every type."""
    docs = sorted(p for p in samples.iterdir() if p.suffix not in (".json", ".jsonl"))
    assert len(docs) >= N_DOCUMENTS
    return docs[:N_DOCUMENTS]


def _workspace(root: Path, files: list[Path]) -> Any:
    from ledgerlens.pipeline.intake.workspace import init_workspace

    ws = init_workspace(root)
    use_replay(ws.root)  # the documents are payload: their recorded reading (the gate test sets its own engine)
    for f in files:
        shutil.copy(f, ws.intake / f.name)
    return ws


def _results(ws: Any) -> dict[str, tuple[Any, ...]]:
    from ledgerlens.pipeline.books.store import Store

    store = Store.for_workspace(ws.root)
    try:
        return {
            d.result.source_name: (
                d.result.sha256,
                str(d.result.status),
                d.result.doc_type,
                d.result.data,
                sorted((i.code, i.field or "") for i in d.result.issues),
                d.result.confidence,
            )
            for d in store.all()
        }
    finally:
        store.close()


def _run(ws: Any, **kwargs: Any) -> dict[str, int]:
    from ledgerlens.flows.process import process_documents

    paths = [str(p) for p in sorted(ws.intake.iterdir())]
    return process_documents(paths, str(ws.root), ws.config(), label="scale test", **kwargs)


def test_a_dask_local_cluster_of_two_workers_gives_the_sequential_results(samples, tmp_path, monkeypatch) -> None:
    import ledgerlens.flows.process as process_flow

    docs = _documents(samples)
    sequential = _workspace(tmp_path / "sequential", docs)
    spread = _workspace(tmp_path / "dask", docs)
    assert _run(sequential, workers=1)["processed"] == N_DOCUMENTS

    runners: list[Any] = []
    real = process_flow.dask_task_runner

    def spy(scale: Any, workers: int) -> Any:
        runners.append(real(scale, workers))
        return runners[-1]

    monkeypatch.setattr(process_flow, "dask_task_runner", spy)
    summary = _run(spread, workers=2, task_runner="dask")

    (runner,) = runners
    assert type(runner).__name__ == "DaskTaskRunner"
    assert runner.cluster_kwargs["n_workers"] == 2 and runner.cluster_kwargs["threads_per_worker"] == 1
    assert summary["processed"] == N_DOCUMENTS
    assert _results(spread) == _results(sequential)
    for ws in (sequential, spread):
        assert not list(ws.intake.iterdir()) and not list(ws.processing.iterdir())
        assert len(list(ws.done.iterdir())) + len([p for p in ws.failed.iterdir() if p.is_file()]) >= N_DOCUMENTS


def test_scale_options_are_checked() -> None:
    from ledgerlens.flows.scale import Scale

    assert Scale("dask", "tcp://10.0.0.5:8786").describe(4) == "Dask scheduler tcp://10.0.0.5:8786"
    with pytest.raises(ConfigError, match="process, dask"):
        Scale("ray")
    with pytest.raises(ConfigError, match="needs --task-runner dask"):
        Scale("process", "tcp://10.0.0.5:8786")


INVOICES = ["invoice_de.pdf", "invoice_en_us.pdf", "invoice_es.pdf", "invoice_fr.pdf"]


@pytest.mark.parametrize("limit", [1, 2])
def test_the_model_gate_holds_a_server_to_its_limit_across_worker_processes(samples, tmp_path, limit) -> None:
    """Two worker processes, each with its own in-process limit: only the Prefect gate can hold
    the server to one request at a time."""
    from ledgerlens.pipeline.config import Config, EngineConfig
    from ledgerlens.pipeline.engines import engine_gates
    from openai_server import FakeModelServer
    from prefect.client.orchestration import get_client

    with FakeModelServer(latency_s=1.0) as server:
        ws = _workspace(tmp_path / "books", [samples / name for name in INVOICES])
        options = {"base_url": server.base_url, "concurrency": limit, "max_reasks": 0}
        toml = "\n".join(f"{k} = {v!r}" if isinstance(v, str) else f"{k} = {v}" for k, v in options.items())
        ws.config_path.write_text(f'[engine]\nname = "openai"\nmodel = "test-model"\n[engine.options]\n{toml}\n')
        summary = _run(ws, workers=2)
    assert summary["processed"] == len(INVOICES) and len(server.posts()) == len(INVOICES)
    assert server.max_in_flight == limit
    gate = engine_gates(Config(engine=EngineConfig(name="openai", model="m", options=options))).get("default")
    assert gate is not None and gate.name.startswith("ledgerlens-model-server-127-0-0-1-")
    with get_client(sync_client=True) as client:
        assert client.read_global_concurrency_limit_by_name(gate.name).limit == limit
