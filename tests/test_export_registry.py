"""The export registry: one list of formats that the command, its help and the README follow."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from ledgerlens.pipeline.errors import ConfigError
from ledgerlens.pipeline.export.registry import FORMATS, check_period, export_format

from ledgerlens.cli import build_parser

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_command_offers_exactly_the_registered_formats() -> None:
    parser = build_parser()
    for name in FORMATS:
        args = parser.parse_args(["export", "--to", name])
        assert args.to == name
    with pytest.raises(SystemExit):
        parser.parse_args(["export", "--to", "lotus123"])


def test_the_readme_lists_every_format_with_its_summary() -> None:
    text = README.read_text(encoding="utf-8")
    for fmt in FORMATS.values():
        assert f"| `{fmt.name}` | {fmt.summary} |" in text, fmt.name


def test_every_writer_resolves_and_unknown_names_are_clear() -> None:
    for fmt in FORMATS.values():
        module, _, function = fmt.writer.partition(":")
        mod = __import__(f"ledgerlens.pipeline.export.{module}", fromlist=[function])
        assert callable(getattr(mod, function)), fmt.writer
    with pytest.raises(ConfigError, match="unknown export format 'pdf'; known: xlsx, csv"):
        export_format("pdf")


def test_periods_are_months_or_years() -> None:
    assert check_period("2026-11") == "2026-11"
    assert check_period("2026") == "2026"
    for bad in ("2026-13", "26-11", "2026/11", "november"):
        with pytest.raises(ConfigError, match="not a period"):
            check_period(bad)


def test_listing_formats_imports_no_spreadsheet_or_database_library() -> None:
    code = (
        "import sys, ledgerlens.pipeline.export.registry\n"
        "print([m for m in ('pandas', 'openpyxl', 'sqlalchemy') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"
