"""From generated tokens to data: JSON text, value spans, per-field confidence, number sanity.

Confidence of a field = the geometric mean of the model's own (unconstrained) probabilities of
the tokens that spell its value. Forced structure (quotes, braces, keys) does not count.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from json.decoder import scanstring  # type: ignore[attr-defined]  # exported, but missing from typeshed
from typing import Any

_WS = " \t\n\r"


class LogprobRecorder:
    """A logits processor that sees the raw scores first and keeps the log-probability of each
    chosen token (known one step later). Holds one vocabulary-sized vector, not the whole history."""

    def __init__(self, prompt_len: int) -> None:
        self.prompt_len = prompt_len
        self.logprobs: list[float] = []
        self._last: Any = None

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        self._take(input_ids)
        self._last = scores[0].float().log_softmax(-1)
        return scores

    def _take(self, input_ids: Any) -> None:
        n_new = input_ids.shape[1] - self.prompt_len
        if self._last is not None and n_new > len(self.logprobs):
            self.logprobs.append(float(self._last[int(input_ids[0, -1])]))

    def finish(self, sequence: Any) -> list[float]:
        self._take(sequence.unsqueeze(0) if sequence.dim() == 1 else sequence)
        self._last = None
        return self.logprobs


@dataclass
class Generation:
    text: str
    token_ids: list[int]
    token_bytes: list[bytes]  # per generated token, what it spells
    logprobs: list[float]
    prompt_tokens: int
    seconds: float
    complete: bool = True  # the grammar (or the JSON) reached its end within the budget
    forced_closing: int = 0
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def new_tokens(self) -> int:
        return len(self.token_ids)


def top_level_spans(text: str) -> dict[str, tuple[int, int]]:
    """Character span of each top-level value of a JSON object (compact or not)."""
    spans: dict[str, tuple[int, int]] = {}
    decoder = json.JSONDecoder()
    i = _skip(text, 0)
    if i >= len(text) or text[i] != "{":
        return spans
    i = _skip(text, i + 1)
    while i < len(text) and text[i] == '"':
        key, i = scanstring(text, i + 1)
        i = _skip(text, i)
        if i >= len(text) or text[i] != ":":
            break
        start = _skip(text, i + 1)
        try:
            _, end = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            break
        spans[key] = (start, end)
        i = _skip(text, end)
        if i < len(text) and text[i] == ",":
            i = _skip(text, i + 1)
    return spans


def _skip(text: str, i: int) -> int:
    while i < len(text) and text[i] in _WS:
        i += 1
    return i


def field_confidence(gen: Generation) -> dict[str, float]:
    """Top-level field -> exp(mean log-probability) of the tokens overlapping its value's characters."""
    if not gen.logprobs:
        return {}
    starts, pos = [], 0
    for b in gen.token_bytes:
        starts.append(pos)
        pos += len(b)
    out: dict[str, float] = {}
    for key, (start, end) in top_level_spans(gen.text).items():
        # Value spans are in characters; token offsets are in bytes.
        b0, b1 = len(gen.text[:start].encode()), len(gen.text[:end].encode())
        inside = [
            lp
            for lp, s, b in zip(gen.logprobs, starts, gen.token_bytes, strict=False)
            if s < b1 and s + len(b) > b0 and b.strip(b'"{}[],: ')
        ]
        if inside:
            out[key] = round(math.exp(sum(inside) / len(inside)), 4)
    return out


def parse_json(text: str) -> tuple[dict[str, Any] | None, str | None]:
    """The JSON object the model wrote, or why there is none."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        return None, f"the output is not valid JSON ({e.msg} at character {e.pos})"
    if not isinstance(data, dict):
        return None, f"the output is a JSON {type(data).__name__}, not an object"
    bad = list(_bad_numbers(data, ""))
    if bad:
        return None, "numbers out of range (not finite or too large): " + ", ".join(bad)
    return data, None


def _bad_numbers(node: Any, path: str) -> Any:
    if isinstance(node, bool):
        return
    if (isinstance(node, float) and (not math.isfinite(node) or abs(node) >= 1e15)) or (
        isinstance(node, int) and abs(node) >= 10**15
    ):
        yield path or "$"
    elif isinstance(node, dict):
        for k, v in node.items():
            yield from _bad_numbers(v, f"{path}.{k}" if path else k)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _bad_numbers(v, f"{path}[{i}]")
