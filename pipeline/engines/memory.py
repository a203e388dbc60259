"""The vendor memory as an engine sees it: what a workspace learned about one vendor's documents.

A correction teaches where a vendor prints each field (the label before the value, or above
it, and where on the page), the shape of the value, and the vendor's own values (its name as
the reviewer wrote it, address, VAT id, IBAN). An engine recognises the vendor of a new document
by clues from the page (identifiers, name-like lines) and asks the memory for its profile.

Only the read side lives here: the store-backed memory is built in `books/` and handed in from
above (the chain's `Context.memory`, passed to `engine.extract` as `hints["vendor_memory"]`), so
engines never import the store. The name matching used on both sides is here as well.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from functools import cached_property, lru_cache
from typing import Any, Protocol, runtime_checkable

from ledgerlens.pipeline.normalize import vendor_key

HINT_KEY = "vendor_memory"  # the key of `engine.extract(..., hints=...)` that carries the memory
NEGATIVE_HINT = "negative_totals"  # hint: the document's totals are known to be negative (its e-invoice XML)


@dataclass(frozen=True)
class Placement:
    """Where a vendor printed one field's value on one corrected document."""

    anchor: str  # the folded words before the value on its row (its label), or above it; "" for none
    where: str  # "right": after the anchor on its row; "below": under the anchor; "region": no anchor
    page: int  # 0-based page index; -1 for the last page
    x: float  # centre of the value, as a fraction of the page width
    y: float  # ... and of the page height
    from_bottom: float  # rows between the value and the last row of its page (till rolls vary in length)
    shape: str  # the value as printed, letters -> A, digit runs -> 9 ("99/99/9999", "A9.9")
    order: str = ""  # for dates: "dmy" or "mdy" when the printed value showed which
    rank: int = 1  # 2: a label of the field stands before it; 0: a payment or ignored line; else 1
    seen: int = 1  # corrections that showed the same anchor
    misses: int = 0  # corrections of the vendor's later documents where this place held another value

    @property
    def key(self) -> tuple[str, str]:
        return self.anchor, self.where

    @property
    def trust(self) -> tuple[int, int]:
        """Best first: confirmed more often than contradicted, then a known label of the field."""
        return self.seen - 2 * self.misses, self.rank

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Placement:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


@dataclass(frozen=True)
class VendorProfile:
    """A vendor as the memory knows it, for one document type."""

    vendor_id: int
    name: str
    doc_type: str
    corrections: int
    values: Mapping[str, str] = field(default_factory=dict)  # the vendor's own fields: name, address, ids
    placements: Mapping[str, tuple[Placement, ...]] = field(default_factory=dict)  # field -> places, best first


@dataclass(frozen=True)
class VendorClues:
    """What a page offers to tell its vendor: identifiers printed on it and name-like lines."""

    ids: tuple[str, ...] = ()
    names: tuple[str, ...] = ()


@runtime_checkable
class VendorMemory(Protocol):
    def recall(self, doc_type: str, clues: VendorClues) -> VendorProfile | None:
        """The profile of the vendor these clues point to, or None when no known vendor fits."""
        ...


# ------------------------------------------------------------------ names


def name_key(text: str) -> str:
    """A vendor name for matching: folded, legal form dropped ("SDN BHD", "GmbH"), letters and
    digits only, single spaces."""
    return re.sub(r"[^a-z0-9]+", " ", vendor_key(text)).strip()


def trigrams(key: str) -> frozenset[str]:
    padded = f"  {key} "
    return frozenset(padded[i : i + 3] for i in range(len(padded) - 2))


@lru_cache(maxsize=8192)
def name_similarity(a: str, b: str) -> float:
    """0..1: how alike two name keys are (OCR slips and a missing word still score high)."""
    if not a or not b:
        return 0.0
    if a == b:
        return 1.0
    ratio = SequenceMatcher(None, a, b, autojunk=False).ratio()
    short, long_ = sorted((a, b), key=len)
    if len(short) >= 8 and f" {short} " in f" {long_} ":
        return max(ratio, 0.9)  # the name inside a longer line ("... SDN BHD (12345-X)")
    return ratio


NAME_MATCH = 0.84  # a page line this close to a known name names that vendor


class NameIndex:
    """Known name variants -> vendor, searched by shared trigrams first (fast with thousands of
    vendors), then checked with a character similarity on the few that share enough."""

    def __init__(self, entries: Iterable[tuple[str, int]]) -> None:
        self.keys: list[tuple[str, int, frozenset[str]]] = []
        self.by_gram: dict[str, list[int]] = {}
        for key, vendor in entries:
            if len(key) < 3:
                continue
            grams = trigrams(key)
            pos = len(self.keys)
            self.keys.append((key, vendor, grams))
            for g in grams:
                self.by_gram.setdefault(g, []).append(pos)

    @cached_property
    def _common(self) -> int:
        """A trigram in more keys than this (" s ", "sdn") says little: candidates come from the rarer ones."""
        return max(64, len(self.keys) // 50)

    def best(self, names: Iterable[str]) -> tuple[int, float] | None:
        """(vendor, similarity) of the best match over all the page's name lines, if any is close."""
        best: tuple[int, float] | None = None
        for raw in names:
            key = name_key(raw)
            if len(key) < 3:
                continue
            grams = trigrams(key)
            rare = [g for g in grams if len(self.by_gram.get(g, ())) <= self._common]
            counts = Counter(pos for g in rare for pos in self.by_gram.get(g, ()))
            need = max(1, int(0.3 * len(rare)))
            for pos, n in counts.items():
                if n < need:
                    continue
                known, vendor, kgrams = self.keys[pos]
                if 2 * len(grams & kgrams) < 0.6 * (len(grams) + len(kgrams)):  # Dice under 0.6: another name
                    continue
                score = name_similarity(key, known)
                if score >= NAME_MATCH and (best is None or score > best[1]):
                    best = (vendor, score)
        return best


def merge_placements(
    old: tuple[Placement, ...], new: list[Placement], missed: frozenset[tuple[str, str]] = frozenset(), keep: int = 6
) -> tuple[Placement, ...]:
    """Places learned before and now: the same anchor seen again counts up (its position is the
    latest), one that held another value on this document (`missed`) counts a miss, a new one is
    added; the most trusted are kept, best first."""
    out = [Placement(**{**q.to_dict(), "misses": q.misses + 1}) if q.key in missed else q for q in old]
    for p in new:
        same = next((i for i, q in enumerate(out) if q.key == p.key), None)
        if same is None:
            out.append(p)
        else:
            q = out[same]
            seen_again = {"seen": q.seen + 1, "rank": max(q.rank, p.rank), "misses": q.misses}
            out[same] = Placement(**{**p.to_dict(), **seen_again})
    out = [q for q in out if q.misses <= q.seen]
    out.sort(key=lambda q: (-q.trust[0], -q.trust[1]))
    return tuple(out[:keep])
