"""What the field finder found: values with their evidence, and the page's decimal separator."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from ledgerlens.pipeline.engines.ocr.finder.view import Candidate, DocView
from ledgerlens.pipeline.normalize import format_amount
from ledgerlens.pipeline.types import FieldEvidence


@dataclass
class Found:
    data: dict[str, Any] = field(default_factory=dict)
    evidence: dict[str, FieldEvidence] = field(default_factory=dict)
    memory: dict[str, Any] | None = None  # the vendor memory used: vendor, and the fields it gave

    def put(self, view: DocView, name: str, value: Any, cand: Candidate | None, confidence: float) -> None:
        if value is None or value == "":
            return
        if isinstance(value, Decimal):
            value = format_amount(value)
        elif isinstance(value, date):
            value = value.isoformat()
        self.data[name] = value
        conf = max(0.0, min(1.0, confidence))
        if cand is not None:
            self.evidence[name] = view.evidence(cand, conf)
        else:
            self.evidence[name] = FieldEvidence(conf, source="derived")


def guess_decimal_sep(view: DocView) -> str | None:
    """',' when amounts on the page end in ',dd' more often than '.dd' (1.234,56 style)."""
    counts: Counter[str] = Counter()
    for row in view.rows:
        for m in re.finditer(r"\d([.,])\d{2}(?![\d.,])", row.text):
            counts[m.group(1)] += 1
    if not counts:
        return None
    return "," if counts[","] > counts["."] else "."
