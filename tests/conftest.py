"""Shared test set-up: an isolated, offline Prefect home; no network; generated sample documents."""

from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path

import pytest

# Prefect reads its settings at import: point it at a private home with analytics off, before any
# test imports it. Runs use the ephemeral local API (PREFECT_API_URL unset).
_PREFECT_HOME = tempfile.mkdtemp(prefix="ledgerlens-test-prefect-")
os.environ["PREFECT_HOME"] = _PREFECT_HOME
os.environ.pop("PREFECT_API_URL", None)
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["DO_NOT_TRACK"] = "1"
os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "180"
os.environ["PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL"] = "WARNING"
os.environ["HF_HUB_OFFLINE"] = "1"

_LOOPBACK = {"127.0.0.1", "::1", "localhost", "0.0.0.0"}
_real_connect = socket.socket.connect


def _guarded_connect(self: socket.socket, address: object) -> None:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0] if isinstance(address, tuple) else address
        if host not in _LOOPBACK:
            raise RuntimeError(f"tests must not use the network (tried to connect to {address!r})")
    return _real_connect(self, address)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any connection beyond loopback fails the test: no downloads, no telemetry."""
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)


@pytest.fixture(scope="session")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The generated sample set (born-digital PDFs and scanned copies) with ground truth."""
    from fixtures.generate import generate

    folder = tmp_path_factory.mktemp("samples")
    generate(folder, seed=0, scans=True)
    return folder


@pytest.fixture(scope="session")
def context():
    """One pipeline context (config, schemas, ocr engine) for direct, Prefect-free runs."""
    from ledgerlens.pipeline.chain import Context
    from ledgerlens.pipeline.config import Config

    return Context.create(Config())


@pytest.fixture(scope="session")
def replay_context():
    """The same, with the replay engine: recorded pages and answers of the samples (tests/replay.py)."""
    from ledgerlens.pipeline.chain import Context
    from replay import replay_config

    return Context.create(replay_config())


@pytest.fixture
def ws(tmp_path: Path):
    """A fresh workspace (intake/ processing/ done/ failed/ exports/ ledgerlens.toml) in tmp."""
    from ledgerlens.pipeline.intake.workspace import init_workspace

    return init_workspace(tmp_path / "books")


@pytest.fixture
def store(ws):
    from ledgerlens.pipeline.books.store import Store

    s = Store.for_workspace(ws.root)
    yield s
    s.close()


@pytest.fixture
def journal(store):
    from ledgerlens.pipeline.intake.journal import Journal

    return Journal(store)
