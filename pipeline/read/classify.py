"""Document type from page text: weighted cues per type (pipeline/doctypes/cues.toml) plus layout.

A document whose best score is weak, or too close to the runner-up, is `unknown`: it goes to
review instead of being read silently with the wrong schema.
"""

from __future__ import annotations

import re
import tomllib
from functools import cache
from importlib.resources import files

from ledgerlens.pipeline.normalize import fold
from ledgerlens.pipeline.types import UNKNOWN, Classification, Document

MIN_SCORE = 2.5  # below this, no type is credible
MIN_MARGIN = 0.5  # best minus runner-up
CREDIT_NOTE = re.compile(
    r"\b(credit note|credit memo|gutschrift|rechnungskorrektur|stornorechnung|avoir|facture d'avoir"
    r"|nota de credito|factura rectificativa|creditnota|creditfactuur|nota di credito)\b"
)
_DATE_AT_START = re.compile(r"^\s*\d{1,2}[./\-]\d{1,2}(?:[./\-]\d{2,4})?\b|^\s*\d{1,2}\s+[a-z]{3}\b")


@cache
def _cues() -> dict[str, list[tuple[re.Pattern[str], float]]]:
    raw = tomllib.loads((files("ledgerlens.pipeline.doctypes") / "cues.toml").read_text(encoding="utf-8"))

    def whole_words(cue: str) -> re.Pattern[str]:
        return re.compile(r"(?<![a-z0-9])" + re.escape(fold(cue)) + r"(?![a-z0-9])")

    return {doc_type: [(whole_words(w), float(s)) for w, s in t["cues"]] for doc_type, t in raw.items()}


def score_text(text: str) -> dict[str, float]:
    folded = fold(text)
    return {t: sum(w for pattern, w in cues if pattern.search(folded)) for t, cues in _cues().items()}


def classify(doc: Document) -> Classification:
    text = doc.text
    scores = score_text(text)
    if doc.pages:
        first = doc.pages[0]
        # Till receipts are long and narrow; statements are pages of rows that start with a date.
        ratio = first.width / first.height if first.height > 0 else 1.0
        scores["receipt"] += 3.5 if ratio < 0.45 else 2.0 if ratio < 0.6 else 0.0
        lines = [ln for p in doc.pages for ln in p.text.splitlines()]
        dated = sum(1 for ln in lines if _DATE_AT_START.match(fold(ln)))
        if dated >= 8 and dated >= 0.2 * len(lines):
            scores["bank_statement"] += 3.0
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    (best, top), (_, second) = ranked[0], ranked[1]
    total = sum(max(v, 0.0) for v in scores.values()) or 1.0
    confidence = round(top / total, 3)
    if top < MIN_SCORE or top - second < MIN_MARGIN:
        return Classification(UNKNOWN, confidence, scores)
    subtype = None
    if best == "invoice":
        subtype = "credit_note" if CREDIT_NOTE.search(fold(text)) else "invoice"
    return Classification(best, confidence, scores, subtype)
