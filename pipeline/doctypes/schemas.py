"""Document-type schemas: load, resolve, validate — each with its card (`card.py`).

Schemas ship in the package (`ledgerlens.schemas`); a workspace may add or override document
types by dropping `<type>.schema.json` into `<workspace>/schemas/`. `common.schema.json` holds
shared definitions (and labels every type shares) and is not a document type. References resolve
only against these files: nothing is ever fetched.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from functools import cache, cached_property
from importlib.resources import files
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from ledgerlens.pipeline.doctypes.card import CARD_KEY, Card, parse_card
from ledgerlens.pipeline.errors import ConfigError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SUFFIX = ".schema.json"
COMMON = "common"


class LabelBook:
    """Every printed label of the types loaded together, common's first: (field or role, phrase,
    strong) in order. Shared by the schemas of one load; hashed by identity, so that a consumer
    (the field finder) can build its matching tables once per load."""

    def __init__(self, cards: list[Card]) -> None:
        self.entries: tuple[tuple[str, str, bool], ...] = tuple(
            (name, phrase, strong)
            for card in cards
            for name, labels in card.labels.items()
            for phrase, strong in labels.phrases()
        )

    def fields(self) -> set[str]:
        return {name for name, _, _ in self.entries}


@dataclass(frozen=True)
class DocumentSchema:
    doc_type: str
    schema: dict[str, Any]
    registry: Registry
    card: Card  # what ledgerlens knows about the type (`card.py`)
    labels: LabelBook = field(compare=False)  # every label of the types loaded with this one

    @property
    def version(self) -> str:
        return str(self.schema.get("x-schema-version", "0"))

    @cached_property
    def validator(self) -> Draft202012Validator:
        return Draft202012Validator(self.schema, registry=self.registry, format_checker=FormatChecker())

    def errors(self, data: dict[str, Any]) -> list[tuple[str, str]]:
        """(json path, message) for each violation, sorted so reports are stable."""
        found = [(e.json_path, e.message) for e in self.validator.iter_errors(data)]
        return sorted(found)

    def bundled(self) -> dict[str, Any]:
        """The schema with every $ref inlined: what a grammar compiler or a model server needs."""
        resolver = self.registry.resolver(base_uri=self.schema["$id"])

        def inline(node: Any, resolver: Any) -> Any:
            if isinstance(node, dict):
                if "$ref" in node:
                    resolved = resolver.lookup(node["$ref"])
                    target = inline(copy.deepcopy(resolved.contents), resolved.resolver)
                    rest = {k: inline(v, resolver) for k, v in node.items() if k != "$ref"}
                    return {**target, **rest}
                return {k: inline(v, resolver) for k, v in node.items()}
            if isinstance(node, list):
                return [inline(v, resolver) for v in node]
            return node

        out = inline(self.schema, resolver)
        for key in ("$id", "$schema", "examples", "x-schema-version", CARD_KEY):
            out.pop(key, None)
        return out

    def field_names(self) -> list[str]:
        return list(self.schema.get("properties", {}))

    @cached_property
    def field_kinds(self) -> dict[str, str]:
        """Field path -> kind, in schema order; list items appear as `line_items.amount`.

        A kind is the name of the shared definition a field uses (amount, quantity, rate, date,
        time, currency, iban, bic, tax_id, text, short_text), else list / object / number / text.
        """
        out: dict[str, str] = {}
        _walk_kinds(self.schema, self.registry.resolver(base_uri=self.schema["$id"]), "", out)
        return out


SCALAR_KINDS = frozenset(
    {"amount", "quantity", "rate", "date", "time", "currency", "iban", "bic", "tax_id", "text", "short_text"}
)


def _walk_kinds(node: dict[str, Any], resolver: Any, prefix: str, out: dict[str, str]) -> None:
    for name, prop in node.get("properties", {}).items():
        ref_name = str(prop.get("$ref", "")).rsplit("/", 1)[-1]
        target, res = _deref(prop, resolver)
        kind = _kind_of(target)
        if kind not in ("list", "object") and ref_name in SCALAR_KINDS:
            kind = ref_name
        out[prefix + name] = kind
        if kind == "list":
            items, res = _deref(target.get("items", {}), res)
            _walk_kinds(items, res, f"{prefix}{name}.", out)
        elif kind == "object":
            _walk_kinds(target, res, f"{prefix}{name}.", out)


def _deref(node: dict[str, Any], resolver: Any) -> tuple[dict[str, Any], Any]:
    while isinstance(node, dict) and "$ref" in node:
        resolved = resolver.lookup(node["$ref"])
        node, resolver = resolved.contents, resolved.resolver
    return node, resolver


def _kind_of(node: dict[str, Any]) -> str:
    if node.get("format") == "date":
        return "date"
    return {"array": "list", "object": "object", "number": "number", "integer": "number"}.get(
        str(node.get("type")), "text"
    )


def _read(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise ConfigError(f"cannot read schema {path}: {e}") from e


def _packaged_dir() -> Path:
    return Path(str(files("ledgerlens.schemas")))


@cache
def packaged_schemas() -> dict[str, DocumentSchema]:
    """The packaged document types only (no workspace's), loaded once per process."""
    return load_schemas()


def load_schemas(extra_dir: Path | None = None) -> dict[str, DocumentSchema]:
    """All document schemas by type: packaged ones, then the workspace's (which win)."""
    raw: dict[str, dict[str, Any]] = {}
    where: dict[str, str] = {}
    for folder in (_packaged_dir(), extra_dir):
        if folder is None or not folder.is_dir():
            continue
        for path in sorted(folder.glob(f"*{SUFFIX}")):
            name = path.name.removesuffix(SUFFIX)
            schema = _read(path)
            try:
                Draft202012Validator.check_schema(schema)
            except Exception as e:
                raise ConfigError(f"schema {path} is not a valid JSON Schema 2020-12: {e}") from e
            if "$id" not in schema:
                raise ConfigError(f"schema {path} has no $id")
            raw[name] = schema
            where[name] = str(path)
    if COMMON not in raw:
        raise ConfigError("the packaged common.schema.json is missing: reinstall ledgerlens")
    registry: Registry = Registry().with_resources(
        (s["$id"], Resource.from_contents(s, default_specification=DRAFT202012)) for s in raw.values()
    )
    cards = {name: parse_card(name, schema, where[name], common=name == COMMON) for name, schema in raw.items()}
    book = LabelBook([cards[COMMON], *(c for name, c in cards.items() if name != COMMON)])
    types = sorted((c.order, name) for name, c in cards.items() if name != COMMON)
    return {name: DocumentSchema(name, raw[name], registry, cards[name], book) for _, name in types}
