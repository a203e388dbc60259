"""Merging per-page readings of one document (used when all pages do not fit one conversation).

Lists (line items, transactions) are concatenated in page order. A single-valued field takes the
reading the model was most confident of; on a tie, the earliest page (headers are on page 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class PageReading:
    pages: list[int]  # 0-based indices of the pages this reading saw
    data: dict[str, Any]
    confidence: dict[str, float]


@dataclass
class Merged:
    data: dict[str, Any]
    confidence: dict[str, float]
    page: dict[str, int | None]  # field -> 1-based page it came from (None: the whole conversation)


def merge_readings(readings: list[PageReading], kinds: dict[str, str]) -> Merged:
    if len(readings) == 1:
        only = readings[0]
        page = only.pages[0] + 1 if len(only.pages) == 1 else None
        return Merged(dict(only.data), dict(only.confidence), {k: page for k in only.data})
    out = Merged({}, {}, {})
    for reading in sorted(readings, key=lambda r: r.pages[0]):
        page = reading.pages[0] + 1
        for key, value in reading.data.items():
            conf = reading.confidence.get(key, 0.0)
            if kinds.get(key) == "list" and isinstance(value, list):
                out.data.setdefault(key, []).extend(value)
                out.confidence[key] = min(out.confidence.get(key, 1.0), conf)
                out.page.setdefault(key, page)
            elif key not in out.data or conf > out.confidence.get(key, 0.0):
                out.data[key], out.confidence[key], out.page[key] = value, conf, page
    return out
