"""Finding elements by local name, so that namespace prefixes and syntax versions do not matter.

Paths are written `A|B/C`: a child named A or B, then its child C. The tree keeps its
namespaces (the XSD check needs them); only the lookups here ignore them.
"""

from __future__ import annotations

import re
from typing import Any, TypeAlias

from lxml import etree

Element: TypeAlias = etree._Element


def local(el: Element) -> str:
    tag = el.tag
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def find_all(el: Element | None, path: str) -> list[Element]:
    if el is None:
        return []
    nodes = [el]
    for step in path.split("/"):
        names = step.split("|")
        nodes = [c for n in nodes for c in n if local(c) in names]
    return nodes


def find(el: Element | None, path: str) -> Element | None:
    found = find_all(el, path)
    return found[0] if found else None


def text(el: Element | None, path: str = "") -> str | None:
    """The stripped text of the first element at `path` (or of `el`); None when empty or absent."""
    node = find(el, path) if path else el
    if node is None or node.text is None:
        return None
    value = node.text.strip()
    return value or None


def texts(el: Element | None, path: str) -> list[str]:
    return [t for node in find_all(el, path) if (t := text(node))]


def attribute(el: Element | None, path: str, name: str) -> str | None:
    node = find(el, path) if path else el
    value = node.get(name) if node is not None else None
    return value.strip() or None if value else None


def date(el: Element | None, path: str) -> str | None:
    """UBL dates are ISO; CII dates are `<DateTimeString format="102">20250303</...>` (102 = YYYYMMDD)."""
    node = find(el, path)
    if node is None:
        return None
    stamp = find(node, "DateTimeString")
    raw = text(stamp if stamp is not None else node)
    if raw and re.fullmatch(r"\d{8}", raw):
        return f"{raw[:4]}-{raw[4:6]}-{raw[6:]}"
    return raw


def put(out: dict[str, Any], key: str, value: Any) -> None:
    if value not in (None, "", [], {}):
        out[key] = value


def joined(*parts: str | None) -> str | None:
    return ", ".join(p for p in parts if p) or None


def in_currency(nodes: list[Element], currency: str | None) -> str | None:
    """An amount given twice (invoice and accounting currency): the one in the invoice's currency."""
    for node in nodes:
        if currency and node.get("currencyID") == currency:
            return text(node)
    without = [n for n in nodes if not n.get("currencyID")]
    return text((without or nodes)[0]) if nodes else None
