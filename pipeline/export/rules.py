"""What an import target refuses, said before the file is written: rules, refusals, built files.

An accounting format builds its files in memory (`Built`: the text as it will be written and, per
line, the document it books), its check reads that text back the way the target's importer
does and returns a `Refusal` per line that breaks one of its `Rule`s. `export.run.run_export`
stops with `ExportRefused` when anything is refused, or, with `allow_incomplete`, writes the
files without the refused documents (a document is refused whole: half a bill is not a bill).
A refusal without a document (`doc_id` None) is about the file itself, its header or the
configuration, and always stops the export.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from ledgerlens.pipeline.errors import ConfigError

if TYPE_CHECKING:  # the registry imports this module: no database library when formats are listed
    from ledgerlens.pipeline.books.store import StoredDocument

SHOWN = 20  # refusals named in an error message; the rest are counted


@dataclass(frozen=True)
class Rule:
    id: str  # "<target>.<rule>", named in every refusal
    says: str  # what the target's importer requires, in a sentence
    source: str  # where the vendor publishes it


@dataclass(frozen=True)
class Refusal:
    target: str
    file: str
    line: int | None  # 1-based line of the file; None: the file as a whole
    doc_id: int | None  # None: not one document's fault (header, configuration)
    source_name: str
    rule: str
    reason: str
    field: str | None = None  # the document's field it concerns, for the Review sheet

    def __str__(self) -> str:
        where = f"{self.file} line {self.line}" if self.line else self.file
        who = f" ({self.source_name})" if self.source_name else ""
        return f"{where}{who}: {self.reason} [{self.rule}]"


class ExportRefused(ConfigError):
    """The target would refuse rows of the file: nothing was written."""

    def __init__(self, target: str, refusals: list[Refusal], *, fixable: bool) -> None:
        self.target = target
        self.refusals = refusals
        lines = [str(r) for r in refusals[:SHOWN]]
        if len(refusals) > SHOWN:
            lines.append(f"... and {len(refusals) - SHOWN} more (`ledgerlens export --check --to {target}` lists all)")
        hint = (
            "fix them, or write the file without them with --allow-incomplete" if fixable else "fix the configuration"
        )
        super().__init__(f"{target}: {len(refusals)} row(s) would be refused; {hint}:\n  " + "\n  ".join(lines))


@dataclass(frozen=True)
class Built:
    """One file as it will be written: its text (line endings included) and, per line, the document
    that line books (None for header lines)."""

    name: str
    text: str
    encoding: str
    docs: list[StoredDocument | None]

    def data(self) -> bytes:
        return self.text.encode(self.encoding, errors="replace")

    def lines(self, ending: str) -> list[str]:
        body = self.text[: -len(ending)] if self.text.endswith(ending) else self.text
        return body.split(ending)


class Checker:
    """Collects the refusals of one target's file: `refuse(line, rule, reason)`."""

    def __init__(self, target: str, rules: dict[str, Rule], built: Built) -> None:
        self.target, self.rules, self.built = target, rules, built
        self.found: list[Refusal] = []

    def refuse(self, line: int | None, rule: str, reason: str, field: str | None = None) -> None:
        assert rule in self.rules, rule
        doc = self.built.docs[line - 1] if line and line <= len(self.built.docs) else None
        self.found.append(
            Refusal(self.target, self.built.name, line, doc.id if doc else None,
                    doc.result.source_name if doc else "", rule, reason, field)
        )  # fmt: skip

    def line_endings(self, rule: str, ending: str = "\r\n") -> None:
        stray = self.built.text.replace(ending, "")
        if "\r" in stray or "\n" in stray or not self.built.text.endswith(ending):
            self.refuse(None, rule, f"every line must end with {ending!r} and no other line break may occur")

    def encodable(self, rule: str, lines: list[str]) -> None:
        for n, line in enumerate(lines, start=1):
            try:
                line.encode(self.built.encoding)
            except UnicodeEncodeError as e:
                self.refuse(n, rule, f"{line[e.start : e.end]!r} cannot be written in {self.built.encoding}")


def by_document(refusals: Iterable[Refusal]) -> dict[int, list[Refusal]]:
    out: dict[int, list[Refusal]] = {}
    for r in refusals:
        if r.doc_id is not None:
            out.setdefault(r.doc_id, []).append(r)
    return out


def parses_as_date(value: str, fmt: str) -> bool:
    try:
        return isinstance(datetime.strptime(value, fmt).date(), date)
    except ValueError:
        return False


def is_plain_number(value: str, places: int | None = None) -> bool:
    """A number as importers read it: optional minus, digits, a dot, no thousands separator."""
    tail = r"(\.\d+)?" if places is None else rf"\.\d{{{places}}}"
    return bool(re.fullmatch(rf"-?\d+{tail}", value))


Check = Callable[[Built], list[Refusal]]
