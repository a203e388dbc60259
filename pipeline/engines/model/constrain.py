"""Schema-constrained decoding: the document type's JSON Schema as a grammar, applied as a logits processor.

Backend: llguidance. It compiles a JSON Schema lazily (no full token index: ~0.5 s for the invoice
schema), supports patterns, enums, min/maxLength and maxItems, and its one miss in the stack
findings was an unbounded JSON number running out of tokens; our model-facing schemas have no
numbers (amounts are pattern-constrained strings). outlines was 20/20 too but pulls torch.compile
and a larger install.

Guards the grammar alone does not give:
- calendar dates: the JSON Schema `date` format accepts 2023-02-29 in llguidance; the model-facing
  pattern below allows 29 February in leap years only, and the years parse takes; rates are held to 0-100;
- the token budget: every string and list is bounded, but their product is not. When the new-token
  budget nearly runs out (64 tokens left, enough to finish the deepest open value of our schemas
  even one byte per token) the processor closes the JSON: the open string with its quote, then
  objects and arrays with the bracket the grammar allows, so output is complete and schema-valid.
"""

from __future__ import annotations

import copy
import json
from typing import Any

# YYYY-MM-DD with day ranges per month; 29 February only in leap years (Gregorian rule); years
# 1990-2099, the ones the parse stage takes as a document's date (normalize.find_dates).
_YEAR = "(199[0-9]|20[0-9]{2})"
_LEAP = "(199[26]|20([02468][048]|[13579][26]))"
DATE_PATTERN = (
    f"^({_YEAR}-((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])|(0[469]|11)-(0[1-9]|[12][0-9]|30)"
    f"|02-(0[1-9]|1[0-9]|2[0-8]))|{_LEAP}-02-29)$"
)
# A percentage the parse stage accepts (0-100); the document schema's pattern alone allows 999.
RATE_PATTERN = "^(100(\\.0{1,4})?|[0-9]{1,2}(\\.[0-9]{1,4})?)$"
SCHEMA_RATE_PATTERN = "^[0-9]{1,3}(\\.[0-9]{1,4})?$"
# JSON escapes a model may write: quote, backslash, newline, tab (no \\u, no control characters).
ALLOWED_ESCAPES = '"\\nt'
CLOSERS = ('"', "}", "]")  # inside a string '"' closes it; outside, '}' or ']' (whichever the grammar allows)


def model_schema(bundled: dict[str, Any]) -> dict[str, Any]:
    """The schema the model is held to: the document schema with dates made calendar-exact and
    rates held to 0-100, so that nothing the grammar allows is refused by the parse stage."""
    out = copy.deepcopy(bundled)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("format") == "date":
                node.pop("format")
                node["pattern"] = DATE_PATTERN
            elif node.get("pattern") == SCHEMA_RATE_PATTERN:
                node["pattern"] = RATE_PATTERN
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(out)
    return out


def canonical_answer(data: dict[str, Any], schema: dict[str, Any]) -> str:
    """The answer the grammar would have a model write for `data` (already in the parse stage's
    canonical form: decimal strings, ISO dates): keys in schema order, no whitespace between tokens
    (the grammar's whitespace is not flexible), text unescaped but for the allowed escapes.
    A training target: what the model learns to write is what it is later held to."""
    return json.dumps(_schema_order(data, schema), ensure_ascii=False, separators=(",", ":"))


def _schema_order(value: Any, node: dict[str, Any]) -> Any:
    if isinstance(value, dict):
        props = node.get("properties", {})
        order = [k for k in props if k in value] + [k for k in value if k not in props]
        return {k: _schema_order(value[k], props.get(k, {})) for k in order}
    if isinstance(value, list):
        return [_schema_order(v, node.get("items", {})) for v in value]
    return value


class JsonGrammar:
    """One tokenizer's grammar compiler; grammars cached per schema."""

    def __init__(self, tokenizer: Any, vocab_size: int, eos_ids: list[int]) -> None:
        import llguidance.hf

        self.vocab_size = vocab_size
        self.eos_ids = eos_ids
        self.lltok = llguidance.hf.from_tokenizer(tokenizer, n_vocab=vocab_size, eos_token=eos_ids)
        self._grammars: dict[str, str] = {}
        closers = {t: ids[0] for t in CLOSERS if len(ids := tokenizer.encode(t, add_special_tokens=False)) == 1}
        self.quote_id = closers.get('"')
        self.bracket_ids = [closers[t] for t in ("}", "]") if t in closers]

    def grammar(self, schema: dict[str, Any]) -> str:
        import llguidance

        key = json.dumps(schema, sort_keys=True)
        if key not in self._grammars:
            grammar = llguidance.LLMatcher.grammar_from_json_schema(
                schema, defaults={"whitespace_flexible": False, "json_allowed_escapes": ALLOWED_ESCAPES}
            )
            error, messages = llguidance.LLMatcher.validate_grammar_with_warnings(grammar, self.lltok)
            if error:
                from ledgerlens.pipeline.errors import ConfigError

                raise ConfigError(f"the document schema cannot be compiled to a grammar: {messages[0]}")
            self._grammars[key] = grammar
        return self._grammars[key]

    def accepts(self, schema: dict[str, Any], token_ids: list[int]) -> bool:
        """True when these tokens (a training target, without its end-of-turn token) are a whole
        answer the grammar allows, token by token: the model may end right after them."""
        import llguidance

        matcher = llguidance.LLMatcher(self.lltok, self.grammar(schema), log_level=0)
        return matcher.consume_tokens(token_ids) and matcher.is_accepting() and not matcher.is_error()

    def processor(self, schema: dict[str, Any], prompt_len: int, max_new_tokens: int) -> JsonLogitsProcessor:
        return JsonLogitsProcessor(self, self.grammar(schema), prompt_len, max_new_tokens)


class JsonLogitsProcessor:
    """Masks every token the grammar forbids; near the end of the budget, closes the JSON."""

    def __init__(self, grammar: JsonGrammar, compiled: str, prompt_len: int, max_new_tokens: int) -> None:
        import llguidance

        self.g = grammar
        self.matcher = llguidance.LLMatcher(grammar.lltok, compiled, log_level=0)
        self.prompt_len = prompt_len
        self.max_new_tokens = max_new_tokens
        # Closing the deepest open value of our schemas takes at most ~40 byte-sized tokens; budgets
        # under 128 tokens keep half of themselves for it (and may still be too small to close).
        self.reserve = min(64, max_new_tokens // 2)
        self.consumed = 0
        self.forced_closing = 0  # tokens chosen by the budget guard
        self.in_string = False  # inside a JSON string (key or value) after the tokens consumed so far
        self._escaped = False

    def _allowed(self, n_scores: int) -> Any:
        """One bool per logit: the grammar's byte-per-token mask (0 or 200), padded to the logits' width."""
        import torch

        allowed = torch.frombuffer(bytearray(self.matcher.compute_logit_bias()), dtype=torch.uint8).ne(0)
        if allowed.numel() >= n_scores:
            return allowed[:n_scores]
        return torch.cat([allowed, allowed.new_zeros(n_scores - allowed.numel())])

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        new = input_ids[0, self.prompt_len :].tolist()
        self._consume(new)
        if self.matcher.is_error():
            raise RuntimeError(f"constrained decoding left the grammar: {self.matcher.get_error()}")
        allowed = self._allowed(scores.shape[-1]).to(scores.device)
        if self.max_new_tokens - self.consumed <= self.reserve:
            order = [self.g.quote_id] if self.in_string else self.g.bracket_ids
            closer = next((c for c in order if c is not None and c < allowed.numel() and allowed[c]), None)
            if closer is not None:
                allowed = allowed.logical_and(allowed.new_zeros(()))
                allowed[closer] = True
                self.forced_closing += 1
        return scores.masked_fill(~allowed.unsqueeze(0), float("-inf"))

    def _consume(self, new_ids: list[int]) -> None:
        for token in new_ids[self.consumed :]:
            self.matcher.consume_token(int(token))
            self._track_strings(self.g.lltok.decode_bytes([int(token)]))
        self.consumed = len(new_ids)

    def _track_strings(self, piece: bytes) -> None:
        for byte in piece:
            if self._escaped:
                self._escaped = False
            elif self.in_string and byte == 0x5C:  # backslash
                self._escaped = True
            elif byte == 0x22:  # quote
                self.in_string = not self.in_string

    def finish(self, new_ids: list[int]) -> bool:
        """Consume what generation produced after the last call (its final token); True when the
        output is a complete document of the grammar."""
        self._consume(new_ids)
        return self.matcher.is_accepting() and not self.matcher.is_error()
