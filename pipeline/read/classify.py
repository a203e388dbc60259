"""Document type from page text: each type's card says which words (`cues`) and which page shapes
(`layout`) point to it; the weights add up per type.

A document whose best score is weak, or too close to the runner-up, is `unknown`: it goes to
review instead of being read silently with the wrong schema. A type whose card names subtypes
(an invoice that is a credit note) gets the first subtype whose words are on the page.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache

from ledgerlens.pipeline.doctypes.card import Card
from ledgerlens.pipeline.doctypes.schemas import DocumentSchema, packaged_schemas
from ledgerlens.pipeline.normalize import fold
from ledgerlens.pipeline.types import UNKNOWN, Classification, Document

MIN_SCORE = 2.5  # below this, no type is credible
MIN_MARGIN = 0.5  # best minus runner-up
NARROW, HALF_NARROW = 0.45, 0.6  # width/height of a till roll; of a short receipt (weight x 4/7)
_DATE_AT_START = re.compile(r"^\s*\d{1,2}[./\-]\d{1,2}(?:[./\-]\d{2,4})?\b|^\s*\d{1,2}\s+[a-z]{3}\b")


@lru_cache(maxsize=256)
def _pattern(cue: str) -> re.Pattern[str]:
    """A cue matches the folded text as whole words."""
    return re.compile(r"(?<![a-z0-9])" + re.escape(fold(cue)) + r"(?![a-z0-9])")


def score_card(card: Card, folded: str) -> float:
    """The cues of one type found in the folded text; each cue counts once."""
    return sum(weight for cue, weight in card.cues if _pattern(cue).search(folded))


def classify(doc: Document, schemas: Mapping[str, DocumentSchema] | None = None) -> Classification:
    """The type of `doc` among `schemas` (default: the packaged types)."""
    cards = [s.card for s in (schemas if schemas is not None else packaged_schemas()).values()]
    folded = fold(doc.text)
    scores = {card.doc_type: score_card(card, folded) for card in cards}
    if doc.pages:
        _layout_cues(doc, cards, scores)
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    if not ranked:
        return Classification(UNKNOWN, 0.0, scores)
    best, top = ranked[0]
    second = ranked[1][1] if len(ranked) > 1 else 0.0
    total = sum(max(v, 0.0) for v in scores.values()) or 1.0
    confidence = round(top / total, 3)
    if top < MIN_SCORE or top - second < MIN_MARGIN:
        return Classification(UNKNOWN, confidence, scores)
    card = next(c for c in cards if c.doc_type == best)
    return Classification(best, confidence, scores, _subtype(card, folded))


def _layout_cues(doc: Document, cards: list[Card], scores: dict[str, float]) -> None:
    """Till receipts are long and narrow; statements are pages of rows that start with a date."""
    first = doc.pages[0]
    ratio = first.width / first.height if first.height > 0 else 1.0
    lines = [ln for p in doc.pages for ln in p.text.splitlines()]
    dated = sum(1 for ln in lines if _DATE_AT_START.match(fold(ln)))
    for card in cards:
        narrow = card.layout.get("narrow_page", 0.0)
        scores[card.doc_type] += narrow if ratio < NARROW else narrow * 4 / 7 if ratio < HALF_NARROW else 0.0
        if dated >= 8 and dated >= 0.2 * len(lines):
            scores[card.doc_type] += card.layout.get("dated_rows", 0.0)


def _subtype(card: Card, folded: str) -> str | None:
    if not card.subtypes.field:
        return None
    for name, cues in card.subtypes.cues.items():
        if any(_pattern(cue).search(folded) for cue in cues):
            return name
    return card.subtypes.default
