"""Where the review screen is linked from: the workbook's Review sheet, `ledgerlens show` and each
Prefect artifact, all at the address `[review]` in ledgerlens.toml names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ledgerlens.flows.artifacts import document_markdown
from ledgerlens.pipeline.books.store import Store
from ledgerlens.pipeline.config import Config, ReviewConfig, parse_config
from ledgerlens.pipeline.errors import ConfigError
from ledgerlens.pipeline.intake.jobs import Outcome
from ledgerlens.pipeline.intake.workspace import init_workspace
from ledgerlens.pipeline.types import DocumentResult, Issue, Severity, Status
from openpyxl import load_workbook

from ledgerlens.cli import main


def test_the_review_section_and_its_addresses() -> None:
    assert Config().review == ReviewConfig("127.0.0.1", 8765)
    assert Config().review.document_url(7) == "http://127.0.0.1:8765/documents/7"
    cfg = parse_config({"review": {"host": "books.example.lan", "port": 9000}})
    assert cfg.review.document_url(3) == "http://books.example.lan:9000/documents/3"
    assert parse_config({"review": {"host": "0.0.0.0"}}).review.base_url == "http://localhost:8765"
    assert parse_config({"review": {"host": "::1"}}).review.base_url == "http://[::1]:8765"
    with pytest.raises(ConfigError, match=r"unknown key\(s\) in \[review\]: prot"):
        parse_config({"review": {"prot": 1}})
    with pytest.raises(ConfigError, match=r"review\.port"):
        parse_config({"review": {"port": 70000}})
    with pytest.raises(ConfigError, match=r"review\.host"):
        parse_config({"review": {"host": "a/b"}})


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = init_workspace(tmp_path / "books")
    (ws.config_path).write_text('[review]\nhost = "books.example.lan"\nport = 9000\n', encoding="utf-8")
    store = Store.for_workspace(ws.root)
    store.save(
        DocumentResult(
            sha256="cd" * 32, source_name="inv.pdf", media_type="application/pdf", page_count=1, doc_type="invoice",
            status=Status.NEEDS_REVIEW, data={"total_amount": "10.00", "vendor_name": "Acme"},
            issues=[Issue("validate", "missing_field", Severity.WARNING, "date was not found", field="date")],
            confidence={"total_amount": 0.9}, provenance={}, timings={}, source_path="done/inv.pdf",
        )
    )  # fmt: skip
    store.close()
    return ws.root


def test_the_review_sheet_links_each_row_to_the_review_screen(workspace: Path) -> None:
    assert main(["export", "--to", "xlsx", "--workspace", str(workspace)]) == 0
    sheet = load_workbook(workspace / "exports" / "ledger.xlsx")["Review"]
    assert sheet["A1"].value == "id" and sheet["A2"].value == 1
    assert sheet["A2"].hyperlink.target == "http://books.example.lan:9000/documents/1"


def test_show_prints_the_review_address(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "1", "--workspace", str(workspace)]) == 0
    assert "http://books.example.lan:9000/documents/1" in capsys.readouterr().out
    assert main(["show", "1", "--workspace", str(workspace), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["review_url"] == "http://books.example.lan:9000/documents/1"


def test_the_prefect_artifact_links_the_document(workspace: Path) -> None:
    store = Store.for_workspace(workspace)
    try:
        stored = store.get_by_id(1)
    finally:
        store.close()
    outcome = Outcome(1, "inv.pdf", "done", 1, status="needs_review", path="done/inv.pdf", document_id=1)
    card = document_markdown(outcome, stored, "http://books.example.lan:9000/documents/1")
    assert "[Open in the review screen](http://books.example.lan:9000/documents/1)" in card
