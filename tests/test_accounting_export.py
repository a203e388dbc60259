"""What an export does with rows its target would refuse (stop, --allow-incomplete, --check, the
Review sheet), `ledgerlens init --chart`, and the demo samples exported to every target after it."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from ledgerlens.pipeline.books.audit import exported
from ledgerlens.pipeline.config import Config
from ledgerlens.pipeline.export.accounts import FILE_NAME, load_accounts
from ledgerlens.pipeline.export.chart import starter_names
from ledgerlens.pipeline.export.registry import FORMATS
from ledgerlens.pipeline.export.rules import ExportRefused
from ledgerlens.pipeline.export.run import run_export
from test_accounting import documents

from ledgerlens.cli import main

XERO_OK = {"invoice_number": "GB-1", "date": "2026-10-02", "vendor_name": "Brit Ltd", "vendor_vat_id": "GB123456789",
           "currency": "GBP", "total_amount": "120.00", "tax_amount": "20.00", "vat_rate": "20"}  # fmt: skip
# A UK vendor at a rate Xero UK has no default tax rate for: *TaxType stays empty.
XERO_REFUSED = {**XERO_OK, "invoice_number": "GB-2", "vat_rate": "13", "tax_amount": "13.00", "total_amount": "113.00"}


@pytest.fixture
def books(ws, store):
    """A workspace with the xero-uk chart and two bills, one of which Xero would refuse."""
    assert main(["init", str(ws.root), "--chart", "xero-uk"]) == 0
    template = documents()[0].result
    for i, data in enumerate((XERO_OK, XERO_REFUSED), start=1):
        store.save(replace(template, data=data, sha256=f"{i:064x}", source_name=f"bill-{i}.pdf"))
    return ws


def _export(ws, store, **kw):
    return run_export(store, ws.root, Config(), "xero", **kw)


def test_a_refused_row_stops_the_export_and_writes_nothing(books, store) -> None:
    with pytest.raises(ExportRefused) as e:
        _export(books, store)
    assert [(r.source_name, r.rule) for r in e.value.refusals] == [("bill-2.pdf", "xero.required")]
    assert "*TaxType is required but empty" in str(e.value) and "--allow-incomplete" in str(e.value)
    assert not (books.root / "exports" / "accounting" / "xero_bills.csv").exists()


def test_allow_incomplete_writes_the_rest_and_offers_the_refused_again(books, store) -> None:
    report = _export(books, store, allow_incomplete=True, since_last=True)
    text = report.files[0].read_text(encoding="utf-8-sig")
    assert "GB-1" in text and "GB-2" not in text and report.documents == 1
    assert [r.source_name for r in report.refused] == ["bill-2.pdf"]
    assert exported(store, "xero") == {f"{1:064x}"}  # the refused bill goes out once it is fixed


def test_check_only_lists_refusals_and_writes_nothing(books, store) -> None:
    report = _export(books, store, check_only=True)
    assert report.files == [] and [r.rule for r in report.refused] == ["xero.required"]
    assert not (books.root / "exports" / "accounting").exists()


def test_the_command_exits_non_zero_lists_rows_and_allows_incomplete(books, capsys) -> None:
    ws = ["--workspace", str(books.root)]
    assert main(["export", "--to", "xero", *ws]) == 1
    out = capsys.readouterr().out
    assert "nothing written" in out and "bill-2.pdf" in out and "[xero.required]" in out
    assert main(["export", "--to", "xero", "--check", *ws]) == 1
    assert "1 row(s) of 1 document(s) would be refused" in capsys.readouterr().out
    assert main(["export", "--to", "xero", "--allow-incomplete", *ws]) == 0
    out = capsys.readouterr().out
    assert "1 document(s) left out" in out and "refused: xero_bills.csv line 3 (bill-2.pdf)" in out
    assert main(["export", "--to", "journal", "--check", *ws]) == 0  # a format without rules refuses nothing


def test_the_review_sheet_lists_what_the_chart_target_refuses(books) -> None:
    from openpyxl import load_workbook

    assert main(["export", "--to", "xlsx", "--workspace", str(books.root)]) == 0
    sheet = load_workbook(books.root / "exports" / "ledger.xlsx")["Review"]
    header = [c.value for c in sheet[1]]
    rows = [dict(zip(header, (c.value for c in r), strict=False)) for r in sheet.iter_rows(min_row=2)]
    refused = [r for r in rows if r["code"] == "refused_by_xero"]
    assert [(r["source_file"], r["severity"]) for r in refused] == [("bill-2.pdf", "error")]
    assert "*TaxType is required" in refused[0]["reason"] and "[xero.required]" in refused[0]["reason"]


def test_datev_without_a_chart_is_a_configuration_error(ws, store) -> None:
    store.save(documents()[0].result)
    with pytest.raises(ExportRefused, match=r"datev\.skr"):
        run_export(store, ws.root, Config(), "datev", allow_incomplete=True)  # no way round a bad header


# --- init --chart ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", starter_names())
def test_init_writes_each_starter_chart_for_an_existing_target(name: str, tmp_path: Path) -> None:
    assert main(["init", str(tmp_path), "--chart", name]) == 0
    accounts = load_accounts(tmp_path)
    assert accounts.chart.name == name and accounts.chart.target in FORMATS
    assert accounts.chart.knows(accounts.suspense)  # unmapped vendors go to an account of the chart
    if accounts.chart.target == "datev":
        assert accounts.chart.skr in ("03", "04") and set(accounts.chart.input_tax) == {"19", "7"}


def test_init_keeps_an_accounts_file_it_did_not_write(tmp_path: Path, capsys) -> None:
    (tmp_path / FILE_NAME).write_text('[accounts]\nsuspense = "9999"\n', encoding="utf-8")
    assert main(["init", str(tmp_path), "--chart", "skr04"]) == 2
    assert "--force" in capsys.readouterr().err and "9999" in (tmp_path / FILE_NAME).read_text(encoding="utf-8")
    assert main(["init", str(tmp_path), "--chart", "skr04", "--force"]) == 0
    assert load_accounts(tmp_path).chart.skr == "04"


# --- the demo samples -----------------------------------------------------------------------------

DEMO_CHARTS = ["skr03", "skr04", "xero-uk", "xero-au", "xero-nz", "xero-us", "xero-global", "quickbooks-us",
               "quickbooks-uk"]  # fmt: skip
# The demo has documents in GBP, USD and MYR: DATEV books them with a rate (units per EUR).
RATES = '\nGBP = "0.8450"\nUSD = "1.0850"\nMYR = "4.9500"\n'


@pytest.fixture(scope="module")
def demo_results(tmp_path_factory, context):
    """The demo samples (born-digital: tests/fixtures/generate.py) read by the pipeline."""
    from fixtures.generate import generate
    from ledgerlens.pipeline.chain import process_file

    folder = tmp_path_factory.mktemp("demo")
    return [process_file(path, context) for path in generate(folder, seed=0, scans=False)]


@pytest.mark.slow
@pytest.mark.parametrize("name", DEMO_CHARTS)
def test_the_demo_exports_to_every_target_with_nothing_refused(name: str, demo_results, tmp_path: Path) -> None:
    from ledgerlens.pipeline.books.store import Store
    from ledgerlens.pipeline.intake.workspace import init_workspace

    ws = init_workspace(tmp_path / "books")
    assert main(["init", str(ws.root), "--chart", name]) == 0
    if name.startswith("skr"):
        path = ws.root / FILE_NAME
        path.write_text(path.read_text(encoding="utf-8").replace("[exchange_rates]", "[exchange_rates]" + RATES, 1))
    store = Store.for_workspace(ws.root)
    try:
        for result in demo_results:
            store.save(result)
        target = load_accounts(ws.root).chart.target
        report = run_export(store, ws.root, Config(), target)
        assert report.refused == [] and report.files and all(p.exists() for p in report.files)
        assert report.documents == len(demo_results)
        assert report.unmapped  # the demo's vendors are not mapped: they went to the chart's suspense account
    finally:
        store.close()
    shutil.rmtree(ws.root)
