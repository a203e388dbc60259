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

A reviewer may also approve a document as a whole (the review screen's Approve): see
`apply_corrections`. Saves are checked against the document's version, so two reviewers of one
document never overwrite each other: the later save is refused and sees the other's change.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ledgerlens.pipeline.books.audit import AuditRow, ensure_tables
from ledgerlens.pipeline.books.bank_rules import learn_from_corrections
from ledgerlens.pipeline.books.duplicates import CODE as DUPLICATE
from ledgerlens.pipeline.books.store import DocumentRow, Store, StoredDocument
from ledgerlens.pipeline.books.teach import teach_document
from ledgerlens.pipeline.books.vendors import StoreVendorMemory, workspace_key
from ledgerlens.pipeline.check.parse import parse_output
from ledgerlens.pipeline.check.validate import validate
from ledgerlens.pipeline.config import CONFIG_NAME, PipelineOptions, load_config
from ledgerlens.pipeline.doctypes.schemas import DocumentSchema
from ledgerlens.pipeline.types import Issue, Severity, Status, status_of
from sqlalchemy import select, update

EXAMPLES = "examples"
REVIEW_CHOICES = ("open", "accepted", "corrected")  # a reviewer's verdict on a flagged field
_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


@dataclass(frozen=True)
class Correction:
    row: int  # the workbook row, for messages
    doc_id: int
    field: str | None
    value: str | list[Any] | None  # None: accept the extracted value; a list: a whole table (line items)
    status: str


@dataclass
class Conflict:
    """A save refused because the document changed since the reviewer opened it."""

    doc_id: int
    expected: int  # the version the reviewer started from
    current: StoredDocument  # the document as it is now


@dataclass
class ImportReport:
    applied: list[Correction] = field(default_factory=list)
    accepted: list[Correction] = field(default_factory=list)
    rejected: list[tuple[Correction, str]] = field(default_factory=list)
    unchanged: list[Correction] = field(default_factory=list)
    documents: list[int] = field(default_factory=list)  # ids of the documents updated
    examples: list[Path] = field(default_factory=list)
    approved: list[int] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)  # approvals refused, and why
    conflicts: list[Conflict] = field(default_factory=list)
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
            if not isinstance(node, list) or i > len(node) or (i == len(node) and last):
                return False
            if last:
                node[i] = value
                return True
            if i == len(node):  # one past the last row: a row the reviewer adds (a missed line item)
                node.append({})
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
    approve: Collection[int] = (),
    versions: Mapping[int, int] | None = None,
    teach: bool = True,
    read_options: PipelineOptions | None = None,
) -> ImportReport:
    """Every review surface's way into the store (the workbook's import, the review screen,
    `review correct`).

    `approve`: ids of documents a person approves as a whole, with or without corrections: their
    remaining warnings (low confidence, missing fields) are taken as seen, each field's confidence
    becomes 1.0 and the status ok. An approval is refused, and nothing of that document stored,
    while an error (a failed check) remains on a field that was not corrected or accepted.
    `versions`: the version of each document the reviewer started from; a document whose version
    moved on since (another reviewer, processing again) is not touched and comes back as a conflict.
    `teach` (the default): each changed or approved document also teaches the workspace's vendor
    memory (its file is read again with `read_options`, by default the workspace's own settings).
    """
    now = now or datetime.now(UTC)
    report = ImportReport()
    memory = StoreVendorMemory(store, workspace_key(workspace_root)) if teach else None
    by_doc: dict[int, list[Correction]] = {doc_id: [] for doc_id in approve}
    for c in corrections:
        by_doc.setdefault(c.doc_id, []).append(c)
    for doc_id, rows in sorted(by_doc.items()):
        stored = store.get(str(doc_id))
        expected = versions.get(doc_id) if versions else None
        if stored is None or (schema := schemas.get(stored.result.doc_type)) is None:
            why = f"no document {doc_id} in the store" if stored is None else (
                f"document type {stored.result.doc_type!r} has no schema")  # fmt: skip
            report.rejected += [(c, why) for c in rows]
            report.refused += [(doc_id, why)] if doc_id in approve else []
            continue
        if expected is not None and stored.version != expected:
            report.conflicts.append(Conflict(doc_id, expected, stored))
            continue
        rev = revise(stored, rows, schema, approve=doc_id in approve)
        report.rejected += rev.rejected
        report.unchanged += rev.unchanged
        if rev.blocking:
            report.refused.append((doc_id, "; ".join(i.message for i in rev.blocking)))
            continue
        if not rev.audit:
            continue
        audit = [
            AuditRow(sha256=stored.result.sha256, field=f, action=a, old_value=o, new_value=n, user=user, at=now,
                     source=f"{source} row {row}" if row else source)
            for f, a, o, n, row in rev.audit
        ]  # fmt: skip
        if not _save(store, doc_id, expected, rev, audit, user, now):
            report.conflicts.append(Conflict(doc_id, expected or 0, store.get(str(doc_id)) or stored))
            continue
        report.applied += rev.applied
        report.accepted += rev.accepted
        # A bank line's corrected account becomes a rule the next categorization uses.
        corrected = [(f, n) for f, a, _, n, _ in rev.audit if a == "corrected"]
        learn_from_corrections(store, stored, corrected, user, now)
        report.documents.append(doc_id)
        report.approved += [doc_id] if doc_id in approve else []
        example = keep_example(store.get(str(doc_id)), workspace_root, user, now)
        if example is not None:
            report.examples.append(example)
        if memory is not None:
            opts = read_options or _workspace_reading(workspace_root)
            _teach(memory, store, doc_id, schema, opts, workspace_root, report)
    return report


@dataclass
class Revision:
    """One document's corrections worked out, nothing stored: what the review screen shows before
    a save (`revise`), and what `apply_corrections` stores."""

    data: dict[str, Any]
    issues: list[Issue]
    confidence: dict[str, float]
    audit: list[tuple[str, str, Any, Any, int]]  # field, action, old, new, workbook row
    applied: list[Correction] = field(default_factory=list)
    accepted: list[Correction] = field(default_factory=list)
    rejected: list[tuple[Correction, str]] = field(default_factory=list)
    unchanged: list[Correction] = field(default_factory=list)
    blocking: list[Issue] = field(default_factory=list)  # errors that hold back an approval

    @property
    def status(self) -> Status:
        return status_of(self.issues)


def revise(
    stored: StoredDocument, rows: list[Correction], schema: DocumentSchema, *, approve: bool = False
) -> Revision:
    """The document with `rows` applied: values typed, schema and every cross-check run again."""
    r = stored.result
    rev = _apply_document(stored, rows, schema)
    accepted = {c.field for c in rev.accepted if c.field}
    issues = [i for i in validate(rev.data, r.doc_type, schema) if i.field not in accepted]
    # Findings validation does not redo stay unless their field was changed or accepted; among them
    # the duplicate check's, which needs the whole store (`flag_duplicates` redoes it after a save).
    kept = [i for i in r.issues if i.stage not in ("validate", "parse") or i.code == DUPLICATE]
    issues += [i for i in kept if not _touched(i, rev.data, accepted, r)]
    rev.issues = issues
    rev.confidence = dict(r.confidence)
    rev.confidence.update({c.field: 1.0 for c in rev.applied if c.field and c.field in rev.confidence})
    if approve:
        rev.blocking = [i for i in issues if i.severity is not Severity.WARNING]
        if not rev.blocking:  # the person saw every field and every warning, and vouches for them
            rev.issues = []
            rev.confidence = dict.fromkeys(rev.data, 1.0)
            rev.audit.append(("status", "approved", str(r.status), str(Status.OK), 0))
    return rev


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


def _apply_document(stored: StoredDocument, rows: list[Correction], schema: DocumentSchema) -> Revision:
    data = copy.deepcopy(stored.result.data)
    rev = Revision(data, [], {}, [])
    for c in rows:
        if not c.field:
            rev.rejected.append((c, "the row names no field to correct"))
            continue
        old = _get(data, c.field)
        if c.value is None:
            if c.status == "accepted":
                rev.audit.append((c.field, "accepted", old, old, c.row))
                rev.accepted.append(c)
            continue
        if c.status not in ("corrected", "accepted") and c.status not in REVIEW_CHOICES:
            rev.rejected.append((c, f"review_status {c.status!r} is not one of {', '.join(REVIEW_CHOICES)}"))
            continue
        trial = copy.deepcopy(data)
        if not _set(trial, c.field, c.value):
            rev.rejected.append((c, f"{c.field} is not a field of this document"))
            continue
        parsed, issues = parse_output(trial, schema)
        problems = [i.message for i in issues if i.field == c.field or (i.field or "").startswith(c.field)]
        problems += [m for p, m in schema.errors(parsed) if p.removeprefix("$.") == c.field]
        new = _get(parsed, c.field)
        if problems or new is None:
            rev.rejected.append((c, "; ".join(problems) or f"{c.value!r} is not a value for {c.field}"))
            continue
        if new == old:
            rev.unchanged.append(c)
            continue
        data = rev.data = parsed
        rev.audit.append((c.field, "corrected", old, new, c.row))
        rev.applied.append(c)
    return rev


def _save(
    store: Store, doc_id: int, expected: int | None, rev: Revision, audit: list[AuditRow], user: str, now: datetime
) -> bool:
    """Store the revision and its audit rows in one transaction; False when the document's version
    is no longer `expected`. The version is bumped first, by a conditional UPDATE: that takes the
    row's write lock (SQLite: the database's), so no other writer comes between check and write."""
    ensure_tables(store)
    with store.session() as s:
        bump = update(DocumentRow).where(DocumentRow.id == doc_id).values(version=DocumentRow.version + 1)
        if expected is not None:
            bump = bump.where(DocumentRow.version == expected)
        done = s.execute(bump.execution_options(synchronize_session=False))
        if getattr(done, "rowcount", 0) != 1:  # a CursorResult for an UPDATE; typed as a plain Result
            return False
        row = s.scalar(select(DocumentRow).where(DocumentRow.id == doc_id).execution_options(populate_existing=True))
        assert row is not None
        row.data = json.loads(json.dumps(rev.data))
        row.issues = [i.to_dict() for i in rev.issues]
        row.confidence = rev.confidence
        row.status = str(rev.status)
        row.provenance = {**row.provenance, "review": {"by": user, "at": now.isoformat(timespec="seconds")}}
        row.updated_at = now
        s.add_all(audit)
    return True


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
