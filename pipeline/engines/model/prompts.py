"""Prompt versions (`pipeline/prompts/<version>.toml`) turned into chat messages for a model family.

Two formats: `instruction` (a system line, the fields and rules, for instruction-tuned models) and
`template` (NuExtract: a JSON template of the fields, no instructions; typed leaves for 2.0, empty
ones for 1.5). Qwen-VL takes images as content items; Phi-3.5-Vision as `<|image_N|>` placeholders in
the text. A text model reads the pages' words (`{text}` in the instruction: the layout text); a
vision model given the words too (`words = true`) gets them after the instruction, in the version's
`words` block. A version with `chat = false` is the model's whole input as written (NuExtract 1.5),
not a chat. A re-ask continues the same conversation: the previous answer, then the problems found
in it; a version that is not a chat is asked again whole, its `reask` in place of its `instruction`.
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


TEMPLATE_STYLES = ("typed", "empty")


@dataclass(frozen=True)
class PromptVersion:
    version: str
    format: str  # instruction | template
    system: str
    instruction: str
    reask: str
    words: str = ""  # the block that gives a vision model the pages' words ({text}); "" = none
    chat: bool = True  # False: `instruction` is the model's whole input, not a chat turn
    template_style: str = "typed"  # NuExtract 2.0 types its template's leaves; 1.5 leaves them empty
    stop: tuple[str, ...] = ()  # tokens that end an answer besides the model's own end tokens

    @property
    def reads_text(self) -> bool:
        """The instruction carries the layout text: a prompt for text models."""
        return "{text}" in self.instruction


def _prompts_dir() -> Path:
    return Path(str(files("ledgerlens.pipeline.engines.model.prompt_versions")))


@cache
def load_prompt(version: str) -> PromptVersion:
    path = _prompts_dir() / f"{version}.toml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in _prompts_dir().glob("*.toml")))
        raise ConfigError(f"unknown prompt version {version!r}; known: {known}")
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    unknown = sorted(set(data) - set(PromptVersion.__dataclass_fields__))
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {', '.join(unknown)}")
    prompt = PromptVersion(**{**data, "stop": tuple(data.get("stop", ()))})
    if prompt.format not in ("instruction", "template"):
        raise ConfigError(f"{path}: format must be 'instruction' or 'template'")
    if prompt.template_style not in TEMPLATE_STYLES:
        raise ConfigError(f"{path}: template_style must be one of {', '.join(TEMPLATE_STYLES)}")
    if not prompt.chat and not prompt.reads_text:
        raise ConfigError(f"{path}: a prompt that is not a chat (chat = false) must carry the text ({{text}})")
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


def nuextract_template(schema: DocumentSchema, style: str = "typed") -> str:
    """The schema as a NuExtract template: typed leaves (2.0) or empty strings (1.5), a list as a
    one-element list of its item's template."""
    bundled = schema.bundled()

    def of(node: dict[str, Any], kinds_prefix: str) -> Any:
        out: dict[str, Any] = {}
        for name, prop in node.get("properties", {}).items():
            kind = schema.field_kinds.get(kinds_prefix + name, "text")
            if kind == "list":
                out[name] = [of(prop.get("items", {}), f"{kinds_prefix}{name}.")]
            elif style == "empty":
                out[name] = ""
            elif "enum" in prop and len(prop["enum"]) <= 12:
                out[name] = list(prop["enum"])
            else:
                out[name] = NUEXTRACT_TYPES.get(kind, "string")
        return out

    return json.dumps(of(bundled, ""), indent=4, ensure_ascii=False)


@dataclass
class Conversation:
    """The chat so far for one document (or one page): messages in the family's shape.

    `raw`: the model's whole input when the prompt is not a chat (the messages then hold it as one
    user turn, for servers); `words`: the layout text the model reads (text models, hybrid);
    `plain`: content as strings (text models' chat templates), not as content parts."""

    family: str
    messages: list[dict[str, Any]]
    n_images: int
    raw: str | None = None
    words: str = ""
    plain: bool = False
    stop: tuple[str, ...] = ()

    def answered(self, answer: str) -> list[dict[str, Any]]:
        """The messages followed by the assistant's `answer` (a training example's whole turn)."""
        return [*self.messages, {"role": "assistant", "content": self._content(answer)}]

    def add_reask(self, answer: str, text: str) -> None:
        if self.raw is not None:  # not a chat: the re-ask is the next whole input
            self.raw = text
            self.messages = [{"role": "user", "content": self._content(text)}]
            return
        self.messages.append({"role": "assistant", "content": self._content(answer)})
        self.messages.append({"role": "user", "content": self._content(text)})

    def _content(self, text: str) -> Any:
        return text if self.plain or self.family == "phi3_v" else [{"type": "text", "text": text}]


def start(
    prompt: PromptVersion,
    family: str,
    schema: DocumentSchema,
    n_images: int,
    *,
    words: str | None = None,
    plain: bool = False,
) -> Conversation:
    """The first turn about `n_images` page images and/or `words` (the pages' layout text).

    A prompt that reads text (`{text}`) takes the words in its instruction; any other prompt gets
    them after its instruction in its `words` block (a vision model given the words too)."""
    values = _values(prompt, schema, n_images)
    if prompt.reads_text:
        if words is None:
            raise ConfigError(f"prompt {prompt.version} reads the pages' words, but none were given")
        text = prompt.instruction.format(**values, text=words)
    else:
        text = prompt.instruction.format(**values)
        if words is not None:
            if not prompt.words:
                raise ConfigError(f"prompt {prompt.version} has no `words` block: it cannot be given the pages' words")
            text += prompt.words.format(text=words)
    if not prompt.chat:
        return Conversation(family, [{"role": "user", "content": text}], 0, text, words or "", True, prompt.stop)
    messages: list[dict[str, Any]] = []
    if prompt.system:
        messages.append({"role": "system", "content": prompt.system})
    if prompt.reads_text:  # the pages are in the text: no image goes with it (n_images only counts them)
        n_images = 0
    if plain:
        messages.append({"role": "user", "content": text})
    elif family == "phi3_v":
        placeholders = "".join(f"<|image_{i + 1}|>\n" for i in range(n_images))
        messages.append({"role": "user", "content": placeholders + text})
    elif prompt.format == "template":  # NuExtract: template first, then the document
        images = [{"type": "image"} for _ in range(n_images)]
        messages.append({"role": "user", "content": [{"type": "text", "text": text}, *images]})
    else:
        images = [{"type": "image"} for _ in range(n_images)]
        messages.append({"role": "user", "content": [*images, {"type": "text", "text": text}]})
    return Conversation(family, messages, n_images, None, words or "", plain, prompt.stop)


def reask_text(
    prompt: PromptVersion, schema: DocumentSchema, problems: list[str], answer: str = "", words: str = ""
) -> str:
    """The re-ask: the problems found ({problems}); a prompt that is not a chat is asked again whole,
    with its previous answer ({current}) and the words ({text})."""
    listed = "\n".join(f"- {p}" for p in problems)
    return prompt.reask.format(**_values(prompt, schema, 0), problems=listed, current=answer, text=words)


def _values(prompt: PromptVersion, schema: DocumentSchema, n_images: int) -> dict[str, Any]:
    values: dict[str, Any] = {"doc_label": schema.card.label, "pages": n_images}
    if prompt.format == "template":
        values["template"] = nuextract_template(schema, prompt.template_style)
    else:
        values["fields"] = field_list(schema)
        values["field_names"] = field_list(schema, kinds=False)
    return values
