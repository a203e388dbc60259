"""What the document page shows, worked out from a stored result and its schema: the fields in
schema order, the tables, each value's confidence and issues, and the engine's boxes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ledgerlens.pipeline.books.evidence import Box, engine_boxes, page_sizes
from ledgerlens.pipeline.books.store import StoredDocument
from ledgerlens.pipeline.chain.routes import route_label
from ledgerlens.pipeline.doctypes.schemas import DocumentSchema
from ledgerlens.pipeline.types import Issue


@dataclass
class FieldView:
    name: str  # the field path the form posts: "total_amount", "line_items[2].amount"
    kind: str
    value: str
    confidence: float | None = None
    low: bool = False
    issues: list[Issue] = field(default_factory=list)
    source: str = ""  # how the engine found it: "label:Total", "xml:factur-x.xml", "model+page"
    choices: list[str] = field(default_factory=list)  # an enum's values
    editable: bool = True

    @property
    def label(self) -> str:
        return self.name.rsplit(".", 1)[-1].replace("_", " ")


@dataclass
class TableView:
    name: str
    columns: list[str]
    rows: list[list[FieldView]]
    issues: list[Issue]  # on the table as a whole
    row_issues: dict[int, list[Issue]]
    confidence: float | None = None

    @property
    def label(self) -> str:
        return self.name.replace("_", " ")


@dataclass
class DocumentView:
    stored: StoredDocument
    fields: list[FieldView]
    tables: list[TableView]
    general_issues: list[Issue]  # on no field
    boxes: list[Box]
    einvoice: str | None  # the attachment the values came from, for an e-invoice
    route: str | None = None  # [engine.routes]: the route, engine and model that read it

    @property
    def xml_only(self) -> bool:
        """An e-invoice whose values were all read from its XML, none placed on the page."""
        return self.einvoice is not None and not self.boxes


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _issues_on(issues: list[Issue], path: str) -> list[Issue]:
    return [i for i in issues if i.field == path]


def build_view(stored: StoredDocument, schema: DocumentSchema | None, review_confidence: float) -> DocumentView:
    r = stored.result
    kinds = schema.field_kinds if schema else {}
    names = schema.field_names() if schema else list(r.data)
    names += [n for n in r.data if n not in names]  # a value the schema no longer has: shown, not lost
    evidence = r.provenance.get("fields") or {}
    fields, tables = [], []
    for name in names:
        kind = kinds.get(name, "text")
        conf = r.confidence.get(name)
        if kind == "list":
            tables.append(_table(name, r.data.get(name), kinds, r.issues, conf))
            continue
        prop = (schema.schema.get("properties", {}).get(name, {}) if schema else {}) or {}
        value = r.data.get(name)
        fields.append(
            FieldView(
                name=name,
                kind=kind,
                value=_text(value),
                confidence=conf,
                low=conf is not None and conf < review_confidence,
                issues=_issues_on(r.issues, name),
                source=str((evidence.get(name) or {}).get("source", "")),
                choices=[str(c) for c in prop.get("enum", [])],
                editable=not isinstance(value, dict | list),
            )
        )
    shown = {f.name for f in fields} | {t.name for t in tables}
    general = [i for i in r.issues if not i.field or _root(i.field) not in shown]
    sizes = page_sizes(r.provenance)
    einvoice = r.provenance.get("einvoice")
    attachment = str(einvoice.get("attachment", "XML")) if isinstance(einvoice, dict) else None
    route = r.provenance.get("route")
    read_by = route_label(route) if isinstance(route, dict) else None
    return DocumentView(stored, fields, tables, general, engine_boxes(r, kinds, sizes), attachment, read_by)


def _root(path: str) -> str:
    return path.split("[", 1)[0].split(".", 1)[0]


def _table(name: str, rows: Any, kinds: dict[str, str], issues: list[Issue], conf: float | None) -> TableView:
    columns = [k.split(".", 1)[1] for k in kinds if k.startswith(f"{name}.") and k.count(".") == 1]
    rows = rows if isinstance(rows, list) else []
    for row in rows:
        if isinstance(row, dict):
            columns += [k for k in row if k not in columns]
    cells = [
        [
            FieldView(
                name=f"{name}[{i}].{col}",
                kind=kinds.get(f"{name}.{col}", "text"),
                value=_text(row.get(col)) if isinstance(row, dict) else "",
                issues=_issues_on(issues, f"{name}[{i}].{col}"),
            )
            for col in columns
        ]
        for i, row in enumerate(rows)
    ]
    row_issues: dict[int, list[Issue]] = {}
    for i in range(len(rows)):
        row_issues[i] = [x for x in issues if x.field == f"{name}[{i}]"]
    return TableView(name, columns, cells, _issues_on(issues, name), row_issues, conf)
