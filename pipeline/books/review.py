"""Reviewers' corrections into the store (`review import` reads them from the workbook's Review
sheet with `export.review_sheet`; other review surfaces hand them in the same way).

Each correction names a document (id) and a field. A row with a `corrected_value` corrects that
field (review_status empty or "corrected"); a row marked "accepted" without a value accepts the
extracted value as it is; "open" rows are left alone. Corrections are typed the way engine
output is (`parse`), then the whole document is validated again (schema and every cross-check).
A correction that does not read as its field's kind, or breaks the schema, is rejected with the
reason and nothing of it is stored.

For each document changed: its data, issues (validation redone, accepted findings dropped),
confidence (1.0 for what a person typed) and status are updated; every change is written to
the audit trail with who and when; and the document is kept as a labelled example under
`examples/`: a copy of its file plus `<file>.json` with the corrected fields, the layout
`ledgerlens eval` reads; and the workspace's vendor memory learns from it where this vendor
prints each field (teach.py), so that the vendor's next document is read right.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ledgerlens.pipeline.books.audit import AuditRow, record_changes
from ledgerlens.pipeline.books.store import DocumentRow, Store, StoredDocument
from ledgerlens.pipeline.books.teach import teach_document
from ledgerlens.pipeline.books.vendors import StoreVendorMemory, workspace_key
from ledgerlens.pipeline.check.parse import parse_output
from ledgerlens.pipeline.check.validate import validate
from ledgerlens.pipeline.config import CONFIG_NAME, PipelineOptions, load_config
from ledgerlens.pipeline.doctypes.schemas import DocumentSchema
from ledgerlens.pipeline.types import Issue, status_of
from sqlalchemy import select

EXAMPLES = "examples"
REVIEW_CHOICES = ("open", "accepted", "corrected")  # a reviewer's verdict on a flagged field
_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


@dataclass(frozen=True)
class Correction:
    row: int  # the workbook row, for messages
    doc_id: int
    field: str | None
    value: str | None  # None: accept the extracted value
    status: str


@dataclass
class ImportReport:
    applied: list[Correction] = field(default_factory=list)
    accepted: list[Correction] = field(default_factory=list)
    rejected: list[tuple[Correction, str]] = field(default_factory=list)
    unchanged: list[Correction] = field(default_factory=list)
    documents: list[int] = field(default_factory=list)  # ids of the documents updated
    examples: list[Path] = field(default_factory=list)
    taught: list[str] = field(default_factory=list)  # vendors the memory learned from these documents
    not_taught: list[tuple[int, str]] = field(default_factory=list)  # (document, why the memory learned nothing)


def _set(data: dict[str, Any], path: str, value: Any) -> bool:
    """Put `value` at a path like `line_items[2].amount`; False when the path does not exist."""
    tokens = [(m[1], m[2]) for m in _TOKEN.finditer(path)]
    node: Any = data
    for n, (key, index) in enumerate(tokens):
        last = n == len(tokens) - 1
        if key:
            if not isinstance(node, dict):
                return False
            if last:
                node[key] = value
                return True
            node = node.setdefault(key, {} if tokens[n + 1][0] else [])
        else:
            i = int(index)
            if not isinstance(node, list) or i >= len(node):
                return False
            if last:
                node[i] = value
                return True
            node = node[i]
    return False


def _get(data: Any, path: str) -> Any:
    for key, index in ((m[1], m[2]) for m in _TOKEN.finditer(path)):
        if key:
            data = data.get(key) if isinstance(data, dict) else None
        else:
            data = data[int(index)] if isinstance(data, list) and int(index) < len(data) else None
    return data


def apply_corrections(
    store: Store,
    corrections: list[Correction],
    schemas: dict[str, DocumentSchema],
    *,
    user: str,
    workspace_root: Path,
    source: str,
    now: datetime | None = None,
    teach: bool = True,
    read_options: PipelineOptions | None = None,
) -> ImportReport:
    """Apply reviewers' corrections; with `teach` (the default) each changed document also teaches
    the workspace's vendor memory (its file is read again with `read_options`, by default the
    workspace's own settings)."""
    now = now or datetime.now(UTC)
    report = ImportReport()
    memory = StoreVendorMemory(store, workspace_key(workspace_root)) if teach else None
    by_doc: dict[int, list[Correction]] = {}
    for c in corrections:
        by_doc.setdefault(c.doc_id, []).append(c)
    for doc_id, rows in sorted(by_doc.items()):
        stored = store.get(str(doc_id))
        if stored is None:
            report.rejected += [(c, f"no document {doc_id} in the store") for c in rows]
            continue
        schema = schemas.get(stored.result.doc_type)
        if schema is None:
            report.rejected += [(c, f"document type {stored.result.doc_type!r} has no schema") for c in rows]
            continue
        changes = _apply_document(stored, rows, schema, report)
        if not changes:
            continue
        data, accepted, audit = changes
        r = stored.result
        issues = [i for i in validate(data, r.doc_type, schema) if i.field not in accepted]
        issues += [i for i in r.issues if i.stage not in ("validate", "parse") and not _touched(i, data, accepted, r)]
        confidence = dict(r.confidence)
        confidence.update({c.field: 1.0 for c in rows if c.field and c.field in confidence})
        status = status_of(issues)
        _save(store, doc_id, data, issues, confidence, status, user, now)
        record_changes(
            store,
            (AuditRow(sha256=r.sha256, field=f, action=a, old_value=o, new_value=n, user=user, at=now,
                      source=f"{source} row {row}") for f, a, o, n, row in audit),
        )  # fmt: skip
        report.documents.append(doc_id)
        example = keep_example(store.get(str(doc_id)), workspace_root, user, now)
        if example is not None:
            report.examples.append(example)
        if memory is not None:
            opts = read_options or _workspace_reading(workspace_root)
            _teach(memory, store, doc_id, schema, opts, workspace_root, report)
    return report


def _workspace_reading(root: Path) -> PipelineOptions:
    config = root / CONFIG_NAME
    return load_config(config if config.is_file() else None).pipeline


def _teach(
    memory: StoreVendorMemory,
    store: Store,
    doc_id: int,
    schema: DocumentSchema,
    opts: PipelineOptions,
    root: Path,
    report: ImportReport,
) -> None:
    stored = store.get(str(doc_id))
    if stored is None:
        return
    profile, why = teach_document(memory, stored, schema, opts, root)
    if profile is not None:
        report.taught.append(profile.name)
    elif why:
        report.not_taught.append((doc_id, why))


def _touched(issue: Issue, data: dict[str, Any], accepted: set[str], r: Any) -> bool:
    """Issues on a field a reviewer changed or accepted no longer apply."""
    return issue.field is not None and (issue.field in accepted or _get(data, issue.field) != _get(r.data, issue.field))


def _apply_document(
    stored: StoredDocument, rows: list[Correction], schema: DocumentSchema, report: ImportReport
) -> tuple[dict[str, Any], set[str], list[tuple[str, str, Any, Any, int]]] | None:
    data = copy.deepcopy(stored.result.data)
    accepted: set[str] = set()
    audit: list[tuple[str, str, Any, Any, int]] = []
    for c in rows:
        if not c.field:
            report.rejected.append((c, "the row names no field to correct"))
            continue
        old = _get(data, c.field)
        if c.value is None:
            if c.status == "accepted":
                accepted.add(c.field)
                audit.append((c.field, "accepted", old, old, c.row))
                report.accepted.append(c)
            continue
        if c.status not in ("corrected", "accepted") and c.status not in REVIEW_CHOICES:
            report.rejected.append((c, f"review_status {c.status!r} is not one of {', '.join(REVIEW_CHOICES)}"))
            continue
        trial = copy.deepcopy(data)
        if not _set(trial, c.field, c.value):
            report.rejected.append((c, f"{c.field} is not a field of this document"))
            continue
        parsed, issues = parse_output(trial, schema)
        problems = [i.message for i in issues if i.field == c.field or (i.field or "").startswith(c.field)]
        problems += [m for p, m in schema.errors(parsed) if p.removeprefix("$.") == c.field]
        new = _get(parsed, c.field)
        if problems or new is None:
            report.rejected.append((c, "; ".join(problems) or f"{c.value!r} is not a value for {c.field}"))
            continue
        if new == old:
            report.unchanged.append(c)
            continue
        data = parsed
        audit.append((c.field, "corrected", old, new, c.row))
        report.applied.append(c)
    return (data, accepted, audit) if audit else None


def _save(
    store: Store,
    doc_id: int,
    data: dict[str, Any],
    issues: list[Issue],
    confidence: dict[str, float],
    status: Any,
    user: str,
    now: datetime,
) -> None:
    with store.session() as s:
        row = s.scalar(select(DocumentRow).where(DocumentRow.id == doc_id))
        assert row is not None
        row.data = json.loads(json.dumps(data))
        row.issues = [i.to_dict() for i in issues]
        row.confidence = confidence
        row.status = str(status)
        row.provenance = {**row.provenance, "review": {"by": user, "at": now.isoformat(timespec="seconds")}}
        row.updated_at = now


def keep_example(stored: StoredDocument | None, workspace_root: Path, user: str, now: datetime) -> Path | None:
    """examples/<file> + examples/<file>.json (corrected fields): a labelled example for eval and fine-tuning."""
    if stored is None or not stored.result.source_path:
        return None
    r = stored.result
    src = Path(stored.result.source_path)
    src = src if src.is_absolute() else workspace_root / src
    if not src.is_file():
        return None
    folder = workspace_root / EXAMPLES
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / r.source_name
    label = folder / f"{r.source_name}.json"
    if label.exists() and json.loads(label.read_text(encoding="utf-8")).get("sha256") != r.sha256:
        stem, dot, ext = r.source_name.rpartition(".")
        name = f"{stem}.{r.sha256[:8]}.{ext}" if dot else f"{r.source_name}.{r.sha256[:8]}"
        target, label = folder / name, folder / f"{name}.json"
    shutil.copyfile(src, target)
    body = {
        "schema": "ledgerlens-example/1",
        "document": target.name,
        "doc_type": r.doc_type,
        "sha256": r.sha256,
        "reviewed_by": user,
        "reviewed_at": now.isoformat(timespec="seconds"),
        "fields": r.data,
    }
    label.write_text(json.dumps(body, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return label
