"""A document type's card: everything ledgerlens knows about the type, kept in its schema file.

The card is the `x-ledgerlens` object of `<type>.schema.json`. The packaged types (invoice,
receipt, bank_statement) use the same mechanism as a type a workspace adds by dropping a schema
into `<workspace>/schemas/`. `common.schema.json` may carry a card too: labels shared by every
type (`date`, `total_amount`, ...) and the roles the field finder knows (`ignore`, ...).

Keys (all optional; unknown keys are errors, as in ledgerlens.toml):

    label        what the type is called in prompts and messages ("delivery note")
    order        where the type's sheets and CSV files come among the types (default 100; then by name)
    cues         words that tell the type, per language, with weights that add up:
                 {"en": [["delivery note", 3.0], ["note no", 2.0]], "de": [["lieferschein", 3.0]]}
    layout       page-shape cues: {"narrow_page": 3.5} (till rolls), {"dated_rows": 3.0} (statements)
    subtypes     {"field": "document_subtype", "default": "invoice",
                  "cues": {"credit_note": {"en": ["credit note"], "de": ["gutschrift"]}}}
    folders      intake sub-folder names that choose this type (`intake/delivery-notes/`); the type
                 name itself, its plural and `-`/space spellings always count
    key_fields   fields the document is worth nothing without (missing -> review)
    labels       printed labels per field and language: {"note_number": {"strong": {"en": ["note no"]},
                 "weak": {"en": ["no"]}}}; strong labels name the field outright, weak ones need a
                 value of the field's shape
    finder       how the ocr engine reads it: "labels" (default: the label -> value finder driven
                 by `labels`), or a packaged type's own finder: "invoice", "receipt", "statement"
    prompt       {"fields": {"note_number": "the delivery note's number"}}: field descriptions for
                 model prompts
    export       {"sheet": "Delivery notes", "csv": "delivery_notes.csv",
                  "ref": "note_number",    (the field naming the document on item rows)
                  "tables": {"line_items": {"sheet": "Delivered lines", "csv": "delivered_lines.csv"}}}
    books        how the accounting exports book it: "bill" (payable) or "paid" (paid at once);
                 absent: not booked
    duplicates   {"number": "invoice_number"}: the field the store-wide duplicate check compares

Nothing here imports a stage: the card is data that every stage reads.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ledgerlens.pipeline.errors import ConfigError

CARD_KEY = "x-ledgerlens"
FINDERS = ("labels", "invoice", "receipt", "statement")
LAYOUT_CUES = ("narrow_page", "dated_rows")
BOOKINGS = ("bill", "paid")
# Labels that name no schema field but a role the field finder knows (a line never a total, ...).
ROLES = frozenset(
    {
        "vat_id",
        "tax_number",
        "tax_base",
        "tax_summary",
        "vendor_block",
        "buyer_block",
        "party_name",
        "party_address",
        "other_date",
        "other_reference",
        "customer_number",
        "ignore",
        "payment_cash",
        "payment_change",
        "carry_over",
        "statement_period",
    }
)
_KEYS = {
    "label",
    "order",
    "cues",
    "layout",
    "subtypes",
    "folders",
    "key_fields",
    "labels",
    "finder",
    "prompt",
    "export",
    "books",
    "duplicates",
}


@dataclass(frozen=True)
class Labels:
    """One field's printed labels: language -> phrases, strong and weak."""

    strong: dict[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    weak: dict[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)

    def phrases(self) -> Iterator[tuple[str, bool]]:
        """(phrase, strong) for every language."""
        for strong, by_lang in ((True, self.strong), (False, self.weak)):
            for phrases in by_lang.values():
                for phrase in phrases:
                    yield phrase, strong


@dataclass(frozen=True)
class ItemTable:
    """A list field written as a table of its own: one row per element."""

    field: str
    sheet: str
    csv: str


@dataclass(frozen=True)
class Subtypes:
    field: str = ""  # the schema field the subtype is written to ("" when the type has none)
    default: str = ""
    cues: dict[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)  # subtype -> phrases (any language)


@dataclass(frozen=True)
class Card:
    doc_type: str
    label: str
    order: float = 100.0
    cues: tuple[tuple[str, float], ...] = ()
    layout: dict[str, float] = dataclasses.field(default_factory=dict)
    subtypes: Subtypes = dataclasses.field(default_factory=Subtypes)
    folders: tuple[str, ...] = ()
    key_fields: tuple[str, ...] = ()
    labels: dict[str, Labels] = dataclasses.field(default_factory=dict)
    finder: str = "labels"
    prompt_fields: dict[str, str] = dataclasses.field(default_factory=dict)
    sheet: str = ""
    csv: str = ""
    ref_field: str = ""
    tables: tuple[ItemTable, ...] = ()
    books: str = ""
    duplicate_number: str = ""

    def folder_names(self) -> set[str]:
        """Intake folder names (folded) that choose this type."""
        names = {self.doc_type, *self.folders}
        return {_fold_folder(n) for n in names} | {_fold_folder(n) + "s" for n in names}


def _fold_folder(name: str) -> str:
    return name.strip().lower().replace("-", "_").replace(" ", "_")


def parse_card(doc_type: str, schema: dict[str, Any], where: str, *, common: bool = False) -> Card:
    """The card of `schema` (defaults where it says nothing), checked against the schema's fields."""
    raw = schema.get(CARD_KEY, {})
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: {CARD_KEY} must be an object")
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) in {CARD_KEY}: {', '.join(unknown)}; known: {', '.join(sorted(_KEYS))}"
        )
    props = schema.get("properties", {}) if not common else {}
    title = str(schema.get("title") or doc_type.replace("_", " ").title())
    label = _text(raw.get("label", title.lower()), f"{where}: label")
    export = _object(raw.get("export", {}), f"{where}: export")
    _only(export, {"sheet", "csv", "ref", "tables"}, f"{where}: export")
    card = Card(
        doc_type=doc_type,
        label=label,
        order=_number(raw.get("order", 100), f"{where}: order"),
        cues=_cues(raw.get("cues", {}), f"{where}: cues"),
        layout=_layout(raw.get("layout", {}), f"{where}: layout"),
        subtypes=_subtypes(raw.get("subtypes", {}), props, f"{where}: subtypes"),
        folders=tuple(_text(f, f"{where}: folders") for f in _list(raw.get("folders", []), f"{where}: folders")),
        key_fields=tuple(_field(f, props, f"{where}: key_fields") for f in _list(raw.get("key_fields", []), where)),
        labels=_labels(raw.get("labels", {}), props, common, f"{where}: labels"),
        finder=_choice(raw.get("finder", "labels"), FINDERS, f"{where}: finder"),
        prompt_fields=_prompt(raw.get("prompt", {}), props, f"{where}: prompt"),
        sheet=_text(export.get("sheet", _plural(title)), f"{where}: export.sheet"),
        csv=_text(export.get("csv", f"{doc_type}s.csv"), f"{where}: export.csv"),
        ref_field=_field(export["ref"], props, f"{where}: export.ref") if "ref" in export else "",
        tables=_tables(export.get("tables", {}), props, doc_type, f"{where}: export.tables"),
        books=_choice(raw["books"], BOOKINGS, f"{where}: books") if "books" in raw else "",
        duplicate_number=_duplicates(raw.get("duplicates", {}), props, f"{where}: duplicates"),
    )
    return card


def _plural(title: str) -> str:
    return title if title.endswith("s") else f"{title}s"


def _number(value: Any, where: str) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise ConfigError(f"{where} must be a number, got {value!r}")
    return float(value)


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be an object")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise ConfigError(f"{where} must be a list")
    return value


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where} must be a non-empty string, got {value!r}")
    return value.strip()


def _only(table: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(allowed))}")


def _choice(value: Any, choices: tuple[str, ...], where: str) -> str:
    if value not in choices:
        raise ConfigError(f"{where} must be one of {', '.join(choices)}, got {value!r}")
    return str(value)


def _field(name: Any, props: dict[str, Any], where: str) -> str:
    if not isinstance(name, str) or name not in props:
        raise ConfigError(f"{where}: {name!r} is not a field of this schema; fields: {', '.join(props)}")
    return name


def _phrases(value: Any, where: str) -> dict[str, tuple[str, ...]]:
    """{language: [phrase, ...]}."""
    out = {}
    for lang, phrases in _object(value, where).items():
        out[lang] = tuple(_text(p, f"{where}.{lang}") for p in _list(phrases, f"{where}.{lang}"))
    return out


def _cues(value: Any, where: str) -> tuple[tuple[str, float], ...]:
    out = []
    for lang, pairs in _object(value, where).items():
        for pair in _list(pairs, f"{where}.{lang}"):
            if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[1], int | float)):
                raise ConfigError(f"{where}.{lang}: each cue is [phrase, weight], got {pair!r}")
            out.append((_text(pair[0], f"{where}.{lang}"), float(pair[1])))
    return tuple(out)


def _layout(value: Any, where: str) -> dict[str, float]:
    table = _object(value, where)
    _only(table, set(LAYOUT_CUES), where)
    for k, v in table.items():
        if not isinstance(v, int | float) or isinstance(v, bool):
            raise ConfigError(f"{where}.{k} must be a number")
    return {k: float(v) for k, v in table.items()}


def _subtypes(value: Any, props: dict[str, Any], where: str) -> Subtypes:
    table = _object(value, where)
    if not table:
        return Subtypes()
    _only(table, {"field", "default", "cues"}, where)
    name = _field(table.get("field"), props, f"{where}.field")
    cues = {
        k: tuple(p for ps in _phrases(v, f"{where}.cues.{k}").values() for p in ps)
        for k, v in _object(table.get("cues", {}), where).items()
    }
    return Subtypes(name, _text(table.get("default"), f"{where}.default"), cues)


def _labels(value: Any, props: dict[str, Any], common: bool, where: str) -> dict[str, Labels]:
    out = {}
    for name, groups in _object(value, where).items():
        if not common and name not in props and name not in ROLES:
            raise ConfigError(
                f"{where}: {name!r} is neither a field of this schema nor a finder role; fields: {', '.join(props)}"
            )
        table = _object(groups, f"{where}.{name}")
        _only(table, {"strong", "weak"}, f"{where}.{name}")
        out[name] = Labels(
            _phrases(table.get("strong", {}), f"{where}.{name}.strong"),
            _phrases(table.get("weak", {}), f"{where}.{name}.weak"),
        )
    return out


def _prompt(value: Any, props: dict[str, Any], where: str) -> dict[str, str]:
    table = _object(value, where)
    _only(table, {"fields"}, where)
    fields = _object(table.get("fields", {}), f"{where}.fields")
    return {_field(k, props, f"{where}.fields"): _text(v, f"{where}.fields.{k}") for k, v in fields.items()}


def _tables(value: Any, props: dict[str, Any], doc_type: str, where: str) -> tuple[ItemTable, ...]:
    out = []
    for name, spec in _object(value, where).items():
        _field(name, props, where)
        spec = _object(spec, f"{where}.{name}")
        _only(spec, {"sheet", "csv"}, f"{where}.{name}")
        sheet = _text(spec.get("sheet", name.replace("_", " ").capitalize()), f"{where}.{name}.sheet")
        out.append(ItemTable(name, sheet, _text(spec.get("csv", f"{doc_type}_{name}.csv"), f"{where}.{name}.csv")))
    return tuple(out)


def _duplicates(value: Any, props: dict[str, Any], where: str) -> str:
    table = _object(value, where)
    _only(table, {"number"}, where)
    return _field(table["number"], props, f"{where}.number") if "number" in table else ""
