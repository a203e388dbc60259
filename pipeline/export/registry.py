"""Every export format in one registry, each behind one signature: `write(request) -> files`.

`ledgerlens export --to NAME`, its help and the README's list of formats come from `FORMATS`.
What every format shares — which documents (a period, those not exported before), the duplicate
check first, the `--since-last` marks afterwards, the vendors booked to suspense — is
`export.run.run_export`, not the command's business.

Adding a format: a function `write(request: ExportRequest) -> list[Path]` in a module of this
package and one `ExportFormat` entry below naming it. Writers are imported when used, so that
listing the formats (`--help`) imports no spreadsheet library. A format's bytes are a function
of the documents and `accounts.toml`: the same documents give the same files.

A format that a program imports names a `check` too: `check(request) -> list[Refusal]`
(`rules.py`), the target's import rules run on every row of the files it would write. The export
writes nothing while anything is refused (or, with `allow_incomplete`, leaves the refused
documents out and reports them); `ledgerlens export --check` runs the check alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, cast

from ledgerlens.pipeline.errors import ConfigError

if TYPE_CHECKING:  # annotations only: listing the formats imports no database or spreadsheet library
    from ledgerlens.pipeline.books.payments import MatchRow
    from ledgerlens.pipeline.books.store import StoredDocument
    from ledgerlens.pipeline.config import Config
    from ledgerlens.pipeline.export.accounts import AccountMap
    from ledgerlens.pipeline.export.rules import Refusal

_PERIOD = re.compile(r"\d{4}(-(0[1-9]|1[0-2]))?")


@dataclass(frozen=True)
class ExportRequest:
    """What a format is asked to write."""

    docs: list[StoredDocument]  # in store order, already chosen (period, since-last)
    workspace_root: Path
    config: Config
    accounts: AccountMap
    period: str | None = None  # YYYY-MM or YYYY, for file names
    output: Path | None = None  # a file or folder instead of the format's place under exports/
    matches: tuple[MatchRow, ...] = ()  # the kept reconciliation (`ledgerlens reconcile`), for bank lines

    @property
    def accounting_dir(self) -> Path:
        return self.output or self.workspace_root / "exports" / "accounting"

    def named(self, name: str) -> Path:
        """`name` in the accounting folder, with the period before the extension."""
        stem, _, ext = name.rpartition(".")
        return self.accounting_dir / (f"{stem}_{self.period}.{ext}" if self.period else name)


Writer = Callable[[ExportRequest], list[Path]]
Check = Callable[[ExportRequest], "list[Refusal]"]


def _resolve(target: str) -> object:
    module, _, function = target.partition(":")
    return getattr(import_module(f"ledgerlens.pipeline.export.{module}"), function)


@dataclass(frozen=True)
class ExportFormat:
    name: str
    summary: str  # one line for `--help` and the README
    writer: str  # "module:function" in this package, imported when the format is used
    books: bool = False  # writes bookings: vendors without an account and documents left out are reported
    check: str | None = None  # "module:function": the target's import rules (see the module docstring)
    left_out: str = ""  # "module:function" naming what the format could not write: (file, why) for the request
    bank_lines: bool = False  # books the statements' lines too (so statements are not "left out")

    def write(self, request: ExportRequest) -> list[Path]:
        return cast(Writer, _resolve(self.writer))(request)

    def refusals(self, request: ExportRequest) -> list[Refusal]:
        """What the target would refuse of `request`'s files; [] for a format without a check."""
        return cast(Check, _resolve(self.check))(request) if self.check else []

    def not_written(self, request: ExportRequest) -> list[tuple[str, str]]:
        if not self.left_out:
            return []
        module, _, function = self.left_out.partition(":")
        return getattr(import_module(f"ledgerlens.pipeline.export.{module}"), function)(request)


FORMATS: dict[str, ExportFormat] = {
    f.name: f
    for f in (
        ExportFormat("xlsx", "the review workbook: a sheet per document type and table, a Review sheet", "xlsx:write"),
        ExportFormat("csv", "the workbook's data sheets as CSV files, one per table and document type", "csv:write"),
        ExportFormat(
            "journal", "double-entry journal.csv, one row per posting", "journal:write", books=True, bank_lines=True
        ),
        ExportFormat(
            "quickbooks",
            "QuickBooks Online bill import (quickbooks_bills.csv)",
            "bills:write_quickbooks",
            True,
            check="quickbooks_rules:check",
        ),
        ExportFormat("xero", "Xero bill import (xero_bills.csv)", "bills:write_xero", True, check="xero_rules:check"),
        ExportFormat(
            "datev",
            "DATEV Buchungsstapel, one EXTF file per fiscal year",
            "datev:write",
            True,
            check="datev_rules:check",
        ),
        # Bank import files from the statements, one per account and period, in exports/bank/.
        *(
            ExportFormat(name, summary, f"bank.{module}:write", left_out="bank.periods:left_out")
            for name, module, summary in (
                ("ofx", "ofx", "OFX 2.2 bank / credit-card statement files"),
                ("mt940", "mt940", "SWIFT MT940 statement files (DATEV's bank import)"),
                ("camt053", "camt053", "ISO 20022 camt.053.001.02 statement XML"),
                ("bank-csv", "csv_upload", "bank upload CSV files for QuickBooks Online (3/4 columns) and Xero"),
            )
        ),
    )
}


def export_format(name: str) -> ExportFormat:
    try:
        return FORMATS[name]
    except KeyError:
        raise ConfigError(f"unknown export format {name!r}; known: {', '.join(FORMATS)}") from None


def check_period(value: str) -> str:
    if not _PERIOD.fullmatch(value):
        raise ConfigError(f"{value!r} is not a period: use YYYY-MM or YYYY")
    return value
