"""Layering: the pipeline never imports Prefect, and importing the package does no work."""

from __future__ import annotations

import subprocess
import sys


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)


def test_pipeline_runs_without_prefect_or_heavy_extras() -> None:
    proc = _run(
        "import sys\n"
        "import ledgerlens.pipeline.chain, ledgerlens.pipeline.measure.evaluate, ledgerlens.pipeline.export.xlsx\n"
        "import ledgerlens.pipeline.train.run, ledgerlens.commands.train\n"
        "bad = [m for m in ('prefect', 'torch', 'transformers', 'peft', 'tomlkit') if m in sys.modules]\n"
        "print(bad)\n"
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_cli_help_is_fast_and_offline() -> None:
    proc = _run("import sys; from ledgerlens.cli import main; sys.argv=['ledgerlens','--help']; main()")
    assert "process" in proc.stdout and "export" in proc.stdout
    assert "prefect" not in proc.stderr.lower()
