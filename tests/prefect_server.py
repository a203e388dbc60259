"""A real `prefect server start` on a free loopback port, started and stopped by a test.

It gets its own PREFECT_HOME (a fresh database), analytics off, and its UI pointed at its own API
(the UI otherwise calls 127.0.0.1:4200). `env(url)` is the environment for a `ledgerlens`
subprocess that should report to it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

STARTUP_TIMEOUT_S = 240.0  # 8-19 s on an idle 2-core machine; far more when it is busy


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def env(api_url: str, home: Path) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API_")}
    out.update(
        PREFECT_API_URL=api_url,
        PREFECT_HOME=str(home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
        PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL="WARNING",
    )
    return out


@contextmanager
def prefect_server(home: Path, **settings: str) -> Iterator[str]:
    """Yields the API URL (http://127.0.0.1:PORT/api) once /api/health answers. `settings` are
    extra PREFECT_* variables for the server (e.g. PREFECT_API_DATABASE_CONNECTION_URL)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/api"
    home.mkdir(parents=True, exist_ok=True)
    log_path = home / "server.log"
    server_env = {**env(url, home), "PREFECT_UI_API_URL": url}
    server_env.pop("PREFECT_API_URL")
    server_env.update(settings)
    prefect = Path(sys.executable).with_name("prefect")
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [str(prefect), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=server_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            _wait_healthy(url, proc, log_path)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"prefect server exited ({proc.returncode}):\n{log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=5) as r:
                if json.load(r) is True:
                    return
        except (urllib.error.URLError, OSError, ValueError):
            pass
        time.sleep(0.5)
    raise TimeoutError(f"prefect server did not answer in {STARTUP_TIMEOUT_S:.0f} s:\n{log_path.read_text()[-3000:]}")


def api(url: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """One REST call: POST with a JSON body, or GET without one."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"{url}{path}", data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)


def start_watch(ws: Path, url: str, home: Path, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    args = ["watch", str(ws), "--poll", "0.5", "--stable", "0.5", "--linger", "1", *extra]
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "ledgerlens.cli", *args],
            env=env(url, home),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the runner's children go with it
        )


@contextmanager
def watching(ws: Path, url: str, home: Path, log: Path, *extra: str) -> Iterator[subprocess.Popen[bytes]]:
    """`start_watch`, killed on the way out if the test left it running."""
    proc = start_watch(ws, url, home, log, *extra)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def stop_watch(proc: subprocess.Popen[bytes]) -> None:
    """Stop `ledgerlens watch` as a service manager would (SIGTERM) and wait for it to exit."""
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)


def finished_flow_runs(url: str) -> list[dict[str, Any]]:
    """Every flow run on the server, once there is one and all have ended; else []."""
    runs = api(url, "/flow_runs/filter", {})
    done = [r for r in runs if r["state"] and r["state"]["type"] in ("COMPLETED", "FAILED", "CRASHED")]
    return runs if runs and len(done) == len(runs) else []


def wait_for(condition: Any, timeout_s: float, what: str, log: Path | None = None) -> Any:
    """Poll `condition` every half second until it returns something truthy; fail with `what`
    (and the tail of `log`, when given) after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    tail = f":\n{log.read_text()[-3000:]}" if log is not None and log.exists() else ""
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}{tail}")
