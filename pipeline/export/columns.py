"""The tables every exporter writes: which columns, which rows, and the typed value of each cell.

One place decides the layout, so the workbook and the CSV files cannot drift apart. Columns come
from the document schemas in schema order (a workspace schema may add fields); keys found in the
data but unknown to the schema follow, sorted by name. Each cell is typed here once: amounts,
quantities and rates become `Decimal`, dates `datetime.date`, anything else text. A value that
does not parse as its kind (an amount reading "n/a") falls back to text, so nothing is lost.
Escaping text is the writers' job: it depends on the target format.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from ledgerlens.pipeline.books.store import StoredDocument
from ledgerlens.pipeline.doctypes.schemas import DocumentSchema, load_schemas
from ledgerlens.pipeline.money import to_decimal
from ledgerlens.pipeline.types import Status

NUMERIC_KINDS = frozenset({"amount", "quantity", "rate", "number"})
# Names of the shared definitions in common.schema.json that decide a cell's type.
_REF_KINDS = frozenset({"amount", "quantity", "rate", "date"})
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_INDEX = re.compile(r"\[\d+\]")


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    kind: str = "text"  # text | amount | quantity | rate | number | date | int | score


@dataclass(frozen=True, slots=True)
class Value:
    data: Decimal | date | int | float | str | None
    kind: str = "text"  # the kind `data` was parsed as; picks the number format
    low: bool = False  # the field's confidence is below the review threshold


@dataclass(slots=True)
class Row:
    doc: StoredDocument
    values: list[Value]


@dataclass(slots=True)
class Table:
    title: str
    columns: list[Column]
    rows: list[Row]


@dataclass(frozen=True, slots=True)
class TableSpec:
    title: str
    doc_types: tuple[str, ...]
    items_key: str | None = None  # None: one row per document, else one per element of this list
    ref_column: str = ""  # on item rows, the column naming the parent document
    csv: tuple[str, ...] = ()  # per doc type (same order): the CSV file of its rows


@dataclass(frozen=True)
class Layout:
    """The data tables of the document types at hand, in the order their cards give: a sheet per
    type, then each of its item tables; types whose item tables share a sheet title share it."""

    tables: tuple[TableSpec, ...]
    kinds: dict[str, dict[str, str]]  # doc type -> field path -> cell kind
    refs: dict[str, str]  # doc type -> the field naming a document on its item rows
    books: dict[str, str]  # doc type -> how the accounting exports book it ("bill", "paid"; "" not booked)

    def csv_files(self) -> list[tuple[str, TableSpec, str]]:
        """(file name, table, document type of its rows): each type's files together, in type order."""
        return [
            (spec.csv[spec.doc_types.index(doc_type)], spec, doc_type)
            for doc_type in self.kinds
            for spec in sorted(self.tables, key=lambda t: t.items_key is not None)  # its own sheet first
            if doc_type in spec.doc_types
        ]

    def child_keys(self, doc_type: str) -> set[str]:
        return {s.items_key for s in self.tables if s.items_key and doc_type in s.doc_types}


def layout_of(schemas: dict[str, DocumentSchema]) -> Layout:
    tables: list[TableSpec] = []
    for doc_type, schema in schemas.items():
        card = schema.card
        tables.append(TableSpec(card.sheet, (doc_type,), csv=(card.csv,)))
        for item in card.tables:
            twin = next((i for i, t in enumerate(tables) if t.title == item.sheet and t.items_key == item.field), None)
            if twin is None:
                tables.append(TableSpec(item.sheet, (doc_type,), item.field, "", (item.csv,)))
            else:
                t = tables[twin]
                tables[twin] = TableSpec(t.title, (*t.doc_types, doc_type), t.items_key, "", (*t.csv, item.csv))
    refs = {doc_type: schema.card.ref_field for doc_type, schema in schemas.items()}
    # Item rows name their document by its type's ref field; rows of several types by "document_number".
    tables = [t if t.items_key is None else replace(t, ref_column=_ref_column(t.doc_types, refs)) for t in tables]
    kinds = {doc_type: field_kinds(schema) for doc_type, schema in schemas.items()}
    books = {doc_type: schema.card.books for doc_type, schema in schemas.items()}
    return Layout(tuple(tables), kinds, refs, books)


def _ref_column(doc_types: tuple[str, ...], refs: dict[str, str]) -> str:
    return (refs.get(doc_types[0]) or "document_number") if len(doc_types) == 1 else "document_number"


def load_layout(workspace_root: Path | None = None) -> Layout:
    """The tables of every document type, the workspace's types (schemas/) included."""
    extra = workspace_root / "schemas" if workspace_root is not None else None
    return layout_of(load_schemas(extra))


DOC_COLUMNS = (Column("id", "int"), Column("source_file"), Column("status"), Column("issue_count", "int"))
_OWN_COLUMNS = frozenset({"id", "source_file", "status", "issue_count", "doc_type", "item_index"})


# --- schema -> field kinds -------------------------------------------------------------------


def field_kinds(schema: DocumentSchema) -> dict[str, str]:
    """Field path -> the kind a cell is typed as: the schema's kind, or text for other scalars."""
    cell_kinds = _REF_KINDS | {"list", "object", "number"}
    return {path: kind if kind in cell_kinds else "text" for path, kind in schema.field_kinds.items()}


def kind_at(kinds: dict[str, str], path: str) -> str:
    """The kind of a data path like `line_items[2].amount`."""
    return kinds.get(_INDEX.sub("", path), "text")


# --- values ----------------------------------------------------------------------------------


def to_date(raw: Any) -> date | None:
    if isinstance(raw, date):
        return raw if type(raw) is date else date(raw.year, raw.month, raw.day)
    if isinstance(raw, str) and _ISO_DATE.fullmatch(raw):
        try:
            return date.fromisoformat(raw)
        except ValueError:
            return None
    return None


def as_text(raw: Any, key: str = "") -> str:
    if isinstance(raw, str):
        return raw
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if key == "tax_breakdown" and isinstance(raw, list) and all(isinstance(t, dict) for t in raw):
        return "; ".join(_tax_text(t) for t in raw)
    if isinstance(raw, list | dict):
        return json.dumps(raw, ensure_ascii=False, separators=(", ", ": "), default=str)
    return str(raw)


def _tax_text(t: dict[str, Any]) -> str:
    """`S 19.00%: 100.00 → 19.00`: category, rate, basis → tax."""
    head = " ".join(str(p) for p in (t.get("category"), t.get("rate")) if p not in (None, ""))
    head = f"{head}%: " if t.get("rate") not in (None, "") else (f"{head}: " if head else "")
    return f"{head}{t.get('basis_amount', '?')} → {t.get('tax_amount', '?')}"


def typed(kind: str, raw: Any, *, key: str = "", low: bool = False) -> Value:
    """The cell for `raw` in a column of `kind`; text when it does not parse as that kind."""
    if raw is None or raw == "":
        return Value(None, kind, low)
    if kind in NUMERIC_KINDS and (d := to_decimal(raw)) is not None:
        return Value(d, kind, low)
    if kind == "date" and (day := to_date(raw)) is not None:
        return Value(day, kind, low)
    if kind in ("int", "score") and isinstance(raw, int | float) and not isinstance(raw, bool):
        return Value(raw, kind, low)
    return Value(as_text(raw, key), "text", low)


def is_low(confidence: dict[str, float], path: str, threshold: float) -> bool:
    """Whether the field at `path`, or anything inside it, has confidence below `threshold`."""
    for key, conf in confidence.items():
        inside = key == path or key.startswith((f"{path}[", f"{path}."))
        if inside and isinstance(conf, int | float) and conf < threshold:
            return True
    return False


def value_at(data: Any, path: str) -> Any:
    """The value at a field path like `line_items[2].amount`; None when it is not there."""
    for token in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        if token.startswith("["):
            i = int(token[1:-1])
            data = data[i] if isinstance(data, list) and i < len(data) else None
        else:
            data = data.get(token) if isinstance(data, dict) else None
    return data


# --- tables ----------------------------------------------------------------------------------


def on_data_sheet(doc: StoredDocument, layout: Layout) -> bool:
    """Failed documents and documents of no known type appear on the Review sheet only."""
    return doc.result.status is not Status.FAILED and doc.result.doc_type in layout.refs


def _items(data: dict[str, Any], key: str) -> list[dict[str, Any]]:
    raw = data.get(key)
    items = raw if isinstance(raw, list) else ([] if raw in (None, "") else [raw])
    return [i if isinstance(i, dict) else {"value": i} for i in items]


def _field_columns(fields: dict[str, str], seen_keys: list[str], skip: set[str]) -> list[Column]:
    cols = [Column(k, v) for k, v in fields.items() if k not in skip]
    # Our own column names win over a data key of the same name (schemas forbid such keys).
    known = set(fields) | skip | _OWN_COLUMNS
    return cols + [Column(k) for k in sorted(set(seen_keys) - known)]


def build_table(spec: TableSpec, docs: list[StoredDocument], layout: Layout, threshold: float) -> Table:
    """The rows of one table, documents in the order given; `threshold` marks low-confidence cells."""
    docs = [d for d in docs if on_data_sheet(d, layout) and d.result.doc_type in spec.doc_types]
    columns = _columns(spec, docs, layout)
    rows: list[Row] = []
    for doc in docs:
        rows += _doc_rows(spec, doc, columns, threshold, layout)
    return Table(spec.title, columns, rows)


def _columns(spec: TableSpec, docs: list[StoredDocument], layout: Layout) -> list[Column]:
    key, kinds = spec.items_key, layout.kinds
    if key is None:
        doc_type = spec.doc_types[0]
        fields = {k: v for k, v in kinds.get(doc_type, {}).items() if "." not in k}
        seen = [k for d in docs for k in d.result.data]
        return [*DOC_COLUMNS, *_field_columns(fields, seen, layout.child_keys(doc_type))]
    prefix = f"{key}."
    fields = {}
    for doc_type in spec.doc_types:  # the union of the item fields, first schema's order first
        for k, v in kinds.get(doc_type, {}).items():
            name = k.removeprefix(prefix)
            if k.startswith(prefix) and "." not in name:
                fields.setdefault(name, v)
    seen = [k for d in docs for item in _items(d.result.data, key) for k in item]
    head = [Column("id", "int"), Column("source_file")]
    if len(spec.doc_types) > 1:
        head.append(Column("doc_type"))
    head += [Column(spec.ref_column), Column("item_index", "int")]
    return [*head, *_field_columns(fields, seen, {spec.ref_column})]


def _doc_rows(
    spec: TableSpec, doc: StoredDocument, columns: list[Column], threshold: float, layout: Layout
) -> list[Row]:
    r = doc.result
    base = {
        "id": doc.id,
        "source_file": r.source_name,
        "status": str(r.status),
        "issue_count": len(r.issues),
        "doc_type": r.doc_type,
    }
    if spec.items_key is None:
        return [Row(doc, [_cell(c, {**r.data, **base}, c.name, r.confidence, threshold) for c in columns])]
    ref = layout.refs.get(r.doc_type)
    base[spec.ref_column] = r.data.get(ref) if ref else None
    rows = []
    for i, item in enumerate(_items(r.data, spec.items_key)):
        fields = {**item, **base, "item_index": i}
        prefix = f"{spec.items_key}[{i}]."
        rows.append(Row(doc, [_cell(c, fields, prefix + c.name, r.confidence, threshold) for c in columns]))
    return rows


def _cell(col: Column, fields: dict[str, Any], path: str, conf: dict[str, float], threshold: float) -> Value:
    return typed(col.kind, fields.get(col.name), key=col.name, low=is_low(conf, path, threshold))
