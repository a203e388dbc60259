"""Prompt versions (`pipeline/prompts/<version>.toml`) turned into chat messages for a model family.

Two formats: `instruction` (a system line, the fields and rules, for instruction-tuned models) and
`template` (NuExtract 2.0: a JSON template of typed fields, no instructions). Qwen-VL takes images
as content items; Phi-3.5-Vision as `<|image_N|>` placeholders in the text. A re-ask continues the
same conversation: the previous answer, then the problems found in it.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from ledgerlens.pipeline.doctypes.schemas import DocumentSchema
from ledgerlens.pipeline.errors import ConfigError

KIND_HINTS = {
    "amount": "amount",
    "quantity": "number",
    "rate": "percent",
    "date": "YYYY-MM-DD",
    "currency": "ISO code",
    "iban": "IBAN",
    "bic": "BIC",
    "tax_id": "tax id",
}
# NuExtract template types per field kind.
NUEXTRACT_TYPES = {
    "amount": "number",
    "quantity": "number",
    "rate": "number",
    "date": "date-time",
    "currency": "string",
    "text": "verbatim-string",
    "short_text": "verbatim-string",
    "iban": "verbatim-string",
    "bic": "verbatim-string",
    "tax_id": "verbatim-string",
}


@dataclass(frozen=True)
class PromptVersion:
    version: str
    format: str  # instruction | template
    system: str
    instruction: str
    reask: str


def _prompts_dir() -> Path:
    return Path(str(files("ledgerlens.pipeline.engines.model.prompt_versions")))


@cache
def load_prompt(version: str) -> PromptVersion:
    path = _prompts_dir() / f"{version}.toml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in _prompts_dir().glob("*.toml")))
        raise ConfigError(f"unknown prompt version {version!r}; known: {known}")
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    prompt = PromptVersion(**data)
    if prompt.format not in ("instruction", "template"):
        raise ConfigError(f"{path}: format must be 'instruction' or 'template'")
    return prompt


def field_list(schema: DocumentSchema, kinds: bool = True) -> str:
    """`invoice_number, date (YYYY-MM-DD), line_items (list of: description, amount (amount))`;
    a field the type's card describes carries its description: `po_number (the PO's number)`.
    Without `kinds` (the `{field_names}` placeholder) the kind hints are left out: the rules
    and the grammar already say how amounts and dates are written."""
    described = schema.card.prompt_fields
    parts: dict[str, list[str]] = {}
    for path, kind in schema.field_kinds.items():
        head, _, child = path.partition(".")
        notes = [n for n in (described.get(path), KIND_HINTS.get(kind) if kinds else None) if n]
        label = f"{child or head} ({'; '.join(notes)})" if notes else (child or head)
        if child:
            parts.setdefault(head, []).append(label)
        elif kind == "list":
            parts.setdefault(head, [])
        else:
            parts[head] = [label]
    return ", ".join(
        f"{name} (list of: {', '.join(items)})" if schema.field_kinds.get(name) == "list" else items[0]
        for name, items in parts.items()
    )


def nuextract_template(schema: DocumentSchema) -> str:
    bundled = schema.bundled()

    def of(node: dict[str, Any], kinds_prefix: str) -> Any:
        out: dict[str, Any] = {}
        for name, prop in node.get("properties", {}).items():
            kind = schema.field_kinds.get(kinds_prefix + name, "text")
            if kind == "list":
                out[name] = [of(prop.get("items", {}), f"{kinds_prefix}{name}.")]
            elif "enum" in prop and len(prop["enum"]) <= 12:
                out[name] = list(prop["enum"])
            else:
                out[name] = NUEXTRACT_TYPES.get(kind, "string")
        return out

    return json.dumps(of(bundled, ""), indent=4, ensure_ascii=False)


@dataclass
class Conversation:
    """The chat so far for one document (or one page): messages in the family's shape."""

    family: str
    messages: list[dict[str, Any]]
    n_images: int

    def answered(self, answer: str) -> list[dict[str, Any]]:
        """The messages followed by the assistant's `answer` (a training example's whole turn)."""
        return [*self.messages, {"role": "assistant", "content": self._content(answer)}]

    def add_reask(self, answer: str, text: str) -> None:
        self.messages.append({"role": "assistant", "content": self._content(answer)})
        self.messages.append({"role": "user", "content": self._content(text)})

    def _content(self, text: str) -> Any:
        return text if self.family == "phi3_v" else [{"type": "text", "text": text}]


def start(prompt: PromptVersion, family: str, schema: DocumentSchema, n_images: int) -> Conversation:
    text = prompt.instruction.format(**_values(prompt, schema, n_images))
    messages: list[dict[str, Any]] = []
    if prompt.system:
        messages.append({"role": "system", "content": prompt.system})
    if family == "phi3_v":
        placeholders = "".join(f"<|image_{i + 1}|>\n" for i in range(n_images))
        messages.append({"role": "user", "content": placeholders + text})
    elif prompt.format == "template":  # NuExtract: template first, then the document
        images = [{"type": "image"} for _ in range(n_images)]
        messages.append({"role": "user", "content": [{"type": "text", "text": text}, *images]})
    else:
        images = [{"type": "image"} for _ in range(n_images)]
        messages.append({"role": "user", "content": [*images, {"type": "text", "text": text}]})
    return Conversation(family, messages, n_images)


def reask_text(prompt: PromptVersion, schema: DocumentSchema, problems: list[str]) -> str:
    listed = "\n".join(f"- {p}" for p in problems)
    return prompt.reask.format(**_values(prompt, schema, 0), problems=listed)


def _values(prompt: PromptVersion, schema: DocumentSchema, n_images: int) -> dict[str, Any]:
    values: dict[str, Any] = {"doc_label": schema.card.label, "pages": n_images}
    if prompt.format == "template":
        values["template"] = nuextract_template(schema)
    else:
        values["fields"] = field_list(schema)
        values["field_names"] = field_list(schema, kinds=False)
    return values
