"""The Prefect artifact of one document: a markdown card with its fields and issues.

Pure functions of an outcome and its stored result, so they are tested without Prefect.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ledgerlens.pipeline.books.store import StoredDocument
from ledgerlens.pipeline.intake.jobs import Outcome

MAX_VALUE = 80


def artifact_key(outcome: Outcome, stored: StoredDocument | None) -> str:
    """Lowercase letters, digits and dashes (Prefect's rule); the same file and bytes keep one key,
    so a document processed again adds a version rather than a second card."""
    slug = re.sub(r"[^a-z0-9]+", "-", outcome.name.lower()).strip("-")[:48] or "document"
    ident = stored.result.sha256[:8] if stored is not None else f"row{outcome.row_id}"
    return f"{slug}-{ident}"


def _cell(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else str(value)
    text = text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


def document_markdown(outcome: Outcome, stored: StoredDocument | None, review_url: str | None = None) -> str:
    """The card; `review_url` (the document in `ledgerlens review serve`) is linked under its title."""
    head = f"# {_cell(outcome.name)}\n\n**{outcome.state}**"
    if outcome.status and outcome.state == "done":
        head += f" ({outcome.status})"
    lines = [head, ""]
    if outcome.reason:
        lines += [f"> {_cell(outcome.reason)}", ""]
    lines.append(f"File: `{outcome.path}` · try {outcome.tries}")
    if stored is None:
        return "\n".join(lines) + "\n"
    r = stored.result
    lines += [f"Document {stored.id} · {r.doc_type} · {r.page_count} page(s) · sha256 `{r.sha256[:16]}…`", ""]
    if review_url:
        lines += [f"[Open in the review screen]({review_url})", ""]
    if outcome.state != "duplicate":
        lines += _fields(r.data, r.confidence) + _issues(r.issues)
    return "\n".join(lines) + "\n"


def _fields(data: dict[str, Any], confidence: dict[str, float]) -> list[str]:
    if not data:
        return []
    rows = ["## Fields", "", "| field | value | confidence |", "|---|---|---|"]
    for name, value in data.items():
        shown = f"{len(value)} rows" if isinstance(value, list) else _cell(value)
        conf = confidence.get(name)
        rows.append(f"| {name} | {shown} | {'' if conf is None else f'{conf:.2f}'} |")
    return [*rows, ""]


def _issues(issues: list[Any]) -> list[str]:
    if not issues:
        return ["No issues."]
    rows = ["## Issues", "", "| severity | stage | code | field | message |", "|---|---|---|---|---|"]
    rows += [f"| {i.severity} | {i.stage} | {i.code} | {i.field or ''} | {_cell(i.message)} |" for i in issues]
    return rows
