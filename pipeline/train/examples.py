"""Labelled examples for training: found in folders, checked, their labels in canonical form.

Two layouts, the ones `ledgerlens eval` reads:
- review examples: `<file>` + `<file>.json` with the fields, in the schema's names, under "fields"
  (what `books/review.keep_example` writes for every reviewed document);
- `bench-gt/1` folders: manifest.jsonl + `<name>.gt.json` (normalised values where given).

Labels go through the parse stage (`check/parse.parse_output`) and the schema: a label that does not
read as its field's kind, a field the schema does not have, a document type without a schema are
problems. Every problem of every example is collected and reported at once as a ConfigError: a set
with one broken example is refused whole, before a model is loaded. The same document twice (same
bytes) is kept once.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledgerlens.pipeline.check.parse import parse_output
from ledgerlens.pipeline.doctypes.schemas import DocumentSchema
from ledgerlens.pipeline.errors import ConfigError
from ledgerlens.pipeline.measure.evaluate import DOC_SUFFIXES, label_fields, our_doc_type

MANIFEST = "manifest.jsonl"
SHOWN_PROBLEMS = 20
# Parse findings that make a label unusable (warnings such as an inferred currency do not).
LABEL_ERRORS = ("unknown_field", "unreadable_value", "bad_value")


@dataclass(frozen=True)
class Example:
    document: Path  # the file the pipeline reads
    label: Path  # its labels
    doc_type: str
    fields: dict[str, Any]  # the labels in the parse stage's canonical form
    sha256: str  # of the document's bytes

    @property
    def name(self) -> str:
        return f"{self.document.parent.name}/{self.document.name}"

    def describe(self) -> dict[str, Any]:
        return {"document": str(self.document), "sha256": self.sha256, "doc_type": self.doc_type,
                "label": str(self.label), "label_sha256": _sha256(self.label)}  # fmt: skip


def fail(problems: list[str], what: str) -> None:
    """One ConfigError listing every problem (the first SHOWN_PROBLEMS of them)."""
    if not problems:
        return
    shown = "\n  - ".join(problems[:SHOWN_PROBLEMS])
    more = f"\n  ... and {len(problems) - SHOWN_PROBLEMS} more" if len(problems) > SHOWN_PROBLEMS else ""
    raise ConfigError(f"{what}: {len(problems)} problem(s); nothing was trained:\n  - {shown}{more}")


def find_examples(folders: list[Path], schemas: dict[str, DocumentSchema]) -> tuple[list[Example], list[str]]:
    """The examples of every folder, checked; and the notes on those left out (duplicates)."""
    problems: list[str] = []
    examples: list[Example] = []
    notes: list[str] = []
    seen: dict[str, Example] = {}
    for folder in folders:
        for document, label, body in _labelled(folder, problems):
            example = _example(document, label, body, schemas, problems)
            if example is None:
                continue
            if example.sha256 in seen:
                notes.append(f"{example.name}: the same document as {seen[example.sha256].name}; used once")
                continue
            seen[example.sha256] = example
            examples.append(example)
    fail(problems, "the training examples cannot be used")
    return examples, notes


def _labelled(folder: Path, problems: list[str]) -> list[tuple[Path, Path, dict[str, Any]]]:
    if not folder.is_dir():
        problems.append(f"{folder}: not a folder of examples")
        return []
    found = _from_manifest(folder, problems) if (folder / MANIFEST).is_file() else _from_pairs(folder, problems)
    if not found and not any(p.startswith(str(folder)) for p in problems):
        problems.append(f"{folder}: no examples (<file> + <file>.json pairs, or {MANIFEST} with <name>.gt.json)")
    return found


def _from_manifest(folder: Path, problems: list[str]) -> list[tuple[Path, Path, dict[str, Any]]]:
    found = []
    for n, line in enumerate((folder / MANIFEST).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            label = folder / entry.get("gt", Path(entry["document"]).stem + ".gt.json")
        except (ValueError, KeyError, TypeError) as e:
            problems.append(f"{folder / MANIFEST} line {n}: not a manifest entry ({e})")
            continue
        body = _read_label(label, problems)
        if body is None:
            continue
        document = folder / entry.get("input", body.get("document_without_embedded_xml") or entry["document"])
        found.append((document, label, body))
    return found


def _from_pairs(folder: Path, problems: list[str]) -> list[tuple[Path, Path, dict[str, Any]]]:
    found = []
    for label in sorted(folder.glob("*.json")):
        document = label.with_suffix("")  # invoice.pdf.json -> invoice.pdf
        if document.suffix.lower() not in DOC_SUFFIXES:
            continue  # not a label of a document (a training record, a note)
        body = _read_label(label, problems)
        if body is not None:
            found.append((document, label, body))
    return found


def _read_label(label: Path, problems: list[str]) -> dict[str, Any] | None:
    try:
        body = json.loads(label.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        problems.append(f"{label}: unreadable labels ({e})")
        return None
    if not isinstance(body, dict):
        problems.append(f"{label}: the labels are not a JSON object")
        return None
    return body


def _example(
    document: Path, label: Path, body: dict[str, Any], schemas: dict[str, DocumentSchema], problems: list[str]
) -> Example | None:
    if not document.is_file():
        problems.append(f"{label}: its document {document.name} is missing")
        return None
    data = document.read_bytes()
    if not data:
        problems.append(f"{document}: the file is empty")
        return None
    doc_type = our_doc_type(body.get("doc_type"))
    if doc_type not in schemas:
        known = ", ".join(sorted(schemas))
        problems.append(f"{label}: doc_type {body.get('doc_type')!r} has no schema (known: {known})")
        return None
    if not isinstance(body.get("fields"), dict) or not body["fields"]:
        problems.append(f'{label}: no labelled fields (expected an object of fields under "fields")')
        return None
    raw = label_fields(body)  # bench-gt/1: the normalised values where given
    fields, errors = canonical_labels(raw, schemas[doc_type])
    problems += [f"{label}: {e}" for e in errors]
    if errors:
        return None
    return Example(document, label, doc_type, fields, hashlib.sha256(data).hexdigest())


def canonical_labels(raw: dict[str, Any], schema: DocumentSchema) -> tuple[dict[str, Any], list[str]]:
    """The labels as the parse stage writes data (decimal strings, ISO dates, compact ids), and what
    keeps them from being a valid answer for `schema`. Nothing is added that the label does not say
    (the parse stage's currency inference is for engine output, not for labels)."""
    data, issues = parse_output(raw, schema)
    if "currency" not in raw:
        data.pop("currency", None)
    errors = [i.message for i in issues if i.code in LABEL_ERRORS]
    errors += [f"{path.removeprefix('$.')}: {message}" for path, message in schema.errors(data)]
    if not errors and not data:
        errors.append("no labelled field has a value")
    return data, errors


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
