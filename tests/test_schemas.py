"""Schemas are the contract: every shipped schema is a valid 2020-12 schema whose examples pass,
known-bad documents fail, the bundled form is self-contained, and a workspace can add a type."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from ledgerlens.pipeline.doctypes.schemas import load_schemas
from ledgerlens.pipeline.errors import ConfigError

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "schemas"
SCHEMA_FILES = sorted(SCHEMA_DIR.glob("*.schema.json"))
SCHEMAS = load_schemas()
DOC_TYPES = ("invoice", "receipt", "bank_statement")


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if "$ref" in node else []
        return own + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def _example(doc_type: str) -> dict[str, Any]:
    return copy.deepcopy(SCHEMAS[doc_type].schema["examples"][0])


def test_the_shipped_folder_holds_the_three_document_types_and_common() -> None:
    assert [p.name for p in SCHEMA_FILES] == [
        "bank_statement.schema.json",
        "common.schema.json",
        "invoice.schema.json",
        "receipt.schema.json",
    ]
    # common holds shared definitions only; it is not a document type.
    assert sorted(SCHEMAS) == sorted(DOC_TYPES)


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.name)
def test_every_schema_file_passes_the_2020_12_meta_schema(path: Path) -> None:
    schema = json.loads(path.read_text(encoding="utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)  # raises SchemaError on a broken schema
    assert schema["$id"].endswith(path.name)


@pytest.mark.parametrize("doc_type", DOC_TYPES)
def test_every_example_validates_against_its_schema(doc_type: str) -> None:
    schema = SCHEMAS[doc_type]
    examples = schema.schema["examples"]
    assert examples, f"{doc_type} has no examples: a broken schema could hide"
    for example in examples:
        assert schema.errors(example) == []
    assert schema.version == "1.0.0"


@pytest.mark.parametrize(
    ("field", "bad", "expected_path"),
    [
        ("total_amount", "1e5", "$.total_amount"),
        ("total_amount", "1,234.56", "$.total_amount"),
        ("total_amount", 119.0, "$.total_amount"),  # a JSON number is not a decimal string
        ("date", "2025-02-30", "$.date"),  # passes the pattern; the date format check catches it
        ("date", "03/03/2025", "$.date"),
        ("currency", "XXX", "$.currency"),  # not in the ISO 4217 enum
        ("currency", "eur", "$.currency"),
        ("iban", "de89370400440532013000", "$.iban"),
        ("vat_rate", "-19", "$.vat_rate"),
    ],
)
def test_known_bad_invoice_values_are_reported_at_their_path(field: str, bad: Any, expected_path: str) -> None:
    schema = SCHEMAS["invoice"]
    doc = _example("invoice")
    doc[field] = bad
    errors = schema.errors(doc)
    assert errors, f"{field}={bad!r} was accepted"
    assert {path for path, _ in errors} == {expected_path}


def test_an_unknown_key_is_a_violation_at_the_document_level() -> None:
    doc = _example("invoice")
    doc["total_amout"] = "119.00"
    errors = SCHEMAS["invoice"].errors(doc)
    assert len(errors) == 1
    path, message = errors[0]
    assert path == "$"
    assert "total_amout" in message


def test_a_bad_value_inside_a_list_item_is_reported_with_its_index() -> None:
    doc = _example("invoice")
    doc["line_items"].append({"description": "Toner", "amount": "12,00"})
    assert [p for p, _ in SCHEMAS["invoice"].errors(doc)] == ["$.line_items[1].amount"]


def test_a_line_item_without_a_description_fails() -> None:
    doc = _example("receipt")
    del doc["line_items"][0]["description"]
    assert [p for p, _ in SCHEMAS["receipt"].errors(doc)] == ["$.line_items[0]"]


def test_errors_are_sorted_so_reports_are_stable() -> None:
    doc = _example("invoice")
    doc["total_amount"] = "x"
    doc["date"] = "y"
    doc["currency"] = "XXX"
    errors = SCHEMAS["invoice"].errors(doc)
    assert errors == sorted(errors)
    # "y" breaks both the date pattern and the date format: each is reported.
    assert [p for p, _ in errors] == ["$.currency", "$.date", "$.date", "$.total_amount"]


@pytest.mark.parametrize("doc_type", DOC_TYPES)
def test_bundled_schema_is_self_contained_and_still_validates(doc_type: str) -> None:
    schema = SCHEMAS[doc_type]
    bundled = schema.bundled()
    assert _refs(bundled) == []
    for key in ("$id", "$schema", "examples", "x-schema-version"):
        assert key not in bundled
    # A plain validator with no registry can use it: nothing left to resolve.
    validator = Draft202012Validator(bundled, format_checker=FormatChecker())
    for example in schema.schema["examples"]:
        assert list(validator.iter_errors(example)) == []
    # The constraints came along with the inlined definitions.
    bad = _example(doc_type)
    bad["currency"] = "XXX"
    assert not validator.is_valid(bad)
    # Bundling leaves the loaded schema as it was.
    assert _refs(schema.schema)


def test_bundled_invoice_inlines_nested_definitions_of_common() -> None:
    bundled = SCHEMAS["invoice"].bundled()
    item = bundled["properties"]["line_items"]["items"]["properties"]
    assert item["amount"]["pattern"] == "^-?[0-9]{1,13}(\\.[0-9]{1,4})?$"
    assert item["description"] == {"type": "string", "minLength": 1, "maxLength": 500}
    assert bundled["properties"]["date"]["format"] == "date"


def test_field_kinds_name_the_shared_definition_each_field_uses() -> None:
    kinds = SCHEMAS["invoice"].field_kinds
    assert kinds["total_amount"] == "amount"
    assert kinds["date"] == "date"
    assert kinds["currency"] == "currency"
    assert kinds["iban"] == "iban"
    assert kinds["vendor_vat_id"] == "tax_id"
    assert kinds["invoice_number"] == "short_text"
    assert kinds["vat_rate"] == "rate"
    assert kinds["line_items"] == "list"
    assert kinds["line_items.amount"] == "amount"
    assert kinds["line_items.quantity"] == "quantity"
    assert kinds["tax_breakdown.basis_amount"] == "amount"
    assert kinds["document_subtype"] == "text"
    # Schema order, so exports list columns as the schema does.
    assert list(kinds)[:3] == ["document_subtype", "invoice_number", "date"]


def test_field_kinds_of_statement_and_receipt() -> None:
    statement = SCHEMAS["bank_statement"].field_kinds
    assert statement["transactions"] == "list"
    assert statement["transactions.date"] == "date"
    assert statement["transactions.amount"] == "amount"
    assert statement["opening_balance"] == "amount"
    receipt = SCHEMAS["receipt"].field_kinds
    assert receipt["time"] == "time"
    assert receipt["line_items.unit_price"] == "amount"


PURCHASE_ORDER = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://ledgerlens.invalid/schemas/purchase_order.schema.json",
    "type": "object",
    "additionalProperties": False,
    "x-schema-version": "0.3.0",
    "properties": {
        "po_number": {"$ref": "common.schema.json#/$defs/short_text"},
        "order_date": {"$ref": "common.schema.json#/$defs/date"},
        "total": {"$ref": "common.schema.json#/$defs/amount"},
        "quantity_ordered": {"type": "integer"},
    },
    "examples": [{"po_number": "PO-7", "order_date": "2025-03-03", "total": "99.90"}],
}


def _write(folder: Path, name: str, schema: dict[str, Any]) -> None:
    (folder / f"{name}.schema.json").write_text(json.dumps(schema), encoding="utf-8")


def test_a_workspace_schema_adds_a_document_type_using_common_definitions(tmp_path: Path) -> None:
    _write(tmp_path, "purchase_order", PURCHASE_ORDER)
    schemas = load_schemas(tmp_path)
    assert sorted(schemas) == sorted([*DOC_TYPES, "purchase_order"])
    po = schemas["purchase_order"]
    assert po.version == "0.3.0"
    assert po.field_kinds == {
        "po_number": "short_text",
        "order_date": "date",
        "total": "amount",
        "quantity_ordered": "number",
    }
    assert po.errors(PURCHASE_ORDER["examples"][0]) == []
    # The shared amount definition applies to the workspace type too.
    assert [p for p, _ in po.errors({"total": "1e5"})] == ["$.total"]
    assert _refs(po.bundled()) == []


def test_a_workspace_schema_overrides_a_packaged_one(tmp_path: Path) -> None:
    receipt = copy.deepcopy(SCHEMAS["receipt"].schema)
    receipt["x-schema-version"] = "9.0.0"
    receipt["required"] = ["total_amount"]
    _write(tmp_path, "receipt", receipt)
    schemas = load_schemas(tmp_path)
    assert schemas["receipt"].version == "9.0.0"
    assert [p for p, _ in schemas["receipt"].errors({"vendor_name": "Shop"})] == ["$"]
    assert schemas["invoice"].version == "1.0.0"


def test_a_missing_workspace_schema_folder_is_fine(tmp_path: Path) -> None:
    assert sorted(load_schemas(tmp_path / "schemas")) == sorted(DOC_TYPES)


def test_a_workspace_schema_that_is_not_json_raises_config_error_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "purchase_order.schema.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"purchase_order\.schema\.json"):
        load_schemas(tmp_path)


def test_a_workspace_schema_that_breaks_the_meta_schema_raises_config_error(tmp_path: Path) -> None:
    broken = {**PURCHASE_ORDER, "properties": {"total": {"type": "money"}}}
    _write(tmp_path, "purchase_order", broken)
    with pytest.raises(ConfigError, match=r"purchase_order\.schema\.json is not a valid JSON Schema 2020-12"):
        load_schemas(tmp_path)


def test_a_workspace_schema_without_an_id_raises_config_error(tmp_path: Path) -> None:
    _write(tmp_path, "purchase_order", {k: v for k, v in PURCHASE_ORDER.items() if k != "$id"})
    with pytest.raises(ConfigError, match=r"has no \$id"):
        load_schemas(tmp_path)


def test_no_schema_file_names_a_key_twice() -> None:
    """JSON keeps the last of two equal keys silently: a field added twice by two changes would hide."""
    folder = Path(__file__).resolve().parents[1] / "schemas"

    def no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in pairs]
        assert len(keys) == len(set(keys)), sorted({k for k in keys if keys.count(k) > 1})
        return dict(pairs)

    for path in folder.glob("*.schema.json"):
        json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=no_repeats)
