"""The command line: init, process (through Prefect), show, export, and clear errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from replay import use_replay

from ledgerlens.cli import main


def test_init_creates_a_workspace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", str(tmp_path / "books")]) == 0
    for name in ("intake", "processing", "done", "failed", "exports"):
        assert (tmp_path / "books" / name).is_dir()
    assert (tmp_path / "books" / "ledgerlens.toml").is_file()
    assert (tmp_path / "books" / "ledgerlens.db").is_file()
    assert "ledgerlens process" in capsys.readouterr().out


def test_a_typo_in_the_config_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["init", str(tmp_path)])
    (tmp_path / "ledgerlens.toml").write_text("[pipeline]\ndpii = 300\n")
    assert main(["export", "--to", "csv", "--workspace", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "dpii" in err and "ledgerlens.toml" in err and "Traceback" not in err


def test_outside_a_workspace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "1", "--workspace", str(tmp_path)]) == 2
    assert "ledgerlens init" in capsys.readouterr().err


def test_show_unknown_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["init", str(tmp_path)])
    assert main(["show", "nothing.pdf", "--workspace", str(tmp_path)]) == 1
    assert "No document matches" in capsys.readouterr().out


@pytest.mark.prefect
def test_process_show_export(samples: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = tmp_path / "books"
    main(["init", str(ws)])
    use_replay(ws)  # the receipt is payload: its recorded reading
    shutil.copy(samples / "receipt_gb_cafe.pdf", ws / "intake")
    assert main(["process", str(ws / "intake")]) == 0
    out = capsys.readouterr().out
    assert "receipt_gb_cafe.pdf" in out and "receipt" in out and "20.41" in out
    assert main(["show", "receipt_gb_cafe.pdf", "--workspace", str(ws), "--json"]) == 0
    shown = capsys.readouterr().out
    assert '"total_amount": "20.41"' in shown and '"provenance"' in shown
    assert main(["export", "--to", "csv", "--workspace", str(ws)]) == 0
    receipts = (ws / "exports" / "csv" / "receipts.csv").read_text(encoding="utf-8-sig")
    assert "receipt_gb_cafe.pdf" in receipts and "20.41" in receipts
    assert main(["export", "--to", "xlsx", "--workspace", str(ws)]) == 0
    assert (ws / "exports" / "ledger.xlsx").is_file()
