"""The request and answer shapes per server: how the conversation, the images and the schema are
sent, and how the text, token counts and log-probabilities come back.

- `openai`: POST {base_url}/chat/completions; images as `image_url` data URLs; the schema as
  `response_format = {type: json_schema, json_schema: {name, strict, schema}}` (vLLM, LM Studio,
  llama.cpp server), or no constraint at all (`structured_output = "none"`); `logprobs: true`.
- `ollama`: POST {server}/api/chat (Ollama's own endpoint, where `format` takes a JSON Schema);
  images as plain base64 in the message's `images`; `options.num_predict` is the token budget.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ledgerlens.pipeline.engines.model.prompts import Conversation
from ledgerlens.pipeline.engines.openai.images import EncodedImage
from ledgerlens.pipeline.engines.openai.options import ServerOptions


class BadAnswer(ValueError):
    """The server answered 200 with something that is not a completion."""


@dataclass
class Completion:
    """One answer from a server, in the shape the shared reading code expects (`vlm.reading.Answer`)."""

    text: str
    token_bytes: list[bytes]
    logprobs: list[float]
    prompt_tokens: int
    completion_tokens: int
    seconds: float = 0.0
    complete: bool = True  # False when the server stopped at the token budget
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def new_tokens(self) -> int:
        return self.completion_tokens


def request_url(options: ServerOptions) -> str:
    if options.structured_output == "ollama_format":
        root = options.base_url.removesuffix("/v1")
        return f"{root}/api/chat"
    return f"{options.base_url}/chat/completions"


def request_body(
    options: ServerOptions,
    model: str,
    conversation: Conversation,
    images: list[EncodedImage],
    schema: dict[str, Any],
    schema_name: str,
) -> dict[str, Any]:
    if options.structured_output == "ollama_format":
        return _ollama_body(options, model, conversation, images, schema)
    body: dict[str, Any] = {
        "model": model,
        "messages": _openai_messages(conversation, images),
        "max_tokens": options.max_new_tokens,
        "temperature": options.temperature,
        "seed": options.seed,
        "stream": False,
    }
    if options.structured_output == "json_schema":
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": schema_name, "strict": True, "schema": schema},
        }
    if options.wants_logprobs:
        body["logprobs"] = True
    return body


def decode_answer(options: ServerOptions, answer: Any) -> Completion:
    try:
        if options.structured_output == "ollama_format":
            return _ollama_decode(answer)
        return _openai_decode(answer)
    except (KeyError, IndexError, TypeError, ValueError) as e:
        raise BadAnswer(f"not a chat completion ({e.__class__.__name__}: {e})") from e


# ---------------------------------------------------------------- OpenAI chat completions


def _openai_messages(conversation: Conversation, images: list[EncodedImage]) -> list[dict[str, Any]]:
    pending = iter(images)
    messages = []
    for message in conversation.messages:
        content = message["content"]
        if isinstance(content, list):
            content = [
                {"type": "image_url", "image_url": {"url": next(pending).data_url}} if item["type"] == "image" else item
                for item in content
            ]
        messages.append({"role": message["role"], "content": content})
    return messages


def _openai_decode(answer: dict[str, Any]) -> Completion:
    choice = answer["choices"][0]
    text = choice["message"].get("content") or ""
    if not isinstance(text, str):
        raise ValueError("message content is not text")
    tokens = ((choice.get("logprobs") or {}).get("content")) or []
    usage = answer.get("usage") or {}
    return _completion(
        text,
        tokens,
        int(usage.get("prompt_tokens") or 0),
        int(usage.get("completion_tokens") or len(tokens)),
        complete=choice.get("finish_reason") != "length",
    )


# ---------------------------------------------------------------- Ollama /api/chat


def _ollama_body(
    options: ServerOptions, model: str, conversation: Conversation, images: list[EncodedImage], schema: dict[str, Any]
) -> dict[str, Any]:
    pending = iter(images)
    messages = []
    for message in conversation.messages:
        content = message["content"]
        if isinstance(content, str):
            messages.append({"role": message["role"], "content": content})
            continue
        text = "\n".join(item["text"] for item in content if item["type"] == "text")
        attached = [next(pending).base64 for item in content if item["type"] == "image"]
        messages.append({"role": message["role"], "content": text, **({"images": attached} if attached else {})})
    body: dict[str, Any] = {
        "model": model,
        "messages": messages,
        "stream": False,
        "format": schema,
        "options": {"temperature": options.temperature, "num_predict": options.max_new_tokens, "seed": options.seed},
    }
    if options.wants_logprobs:
        body["logprobs"] = True
    return body


def _ollama_decode(answer: dict[str, Any]) -> Completion:
    text = answer["message"]["content"]
    if not isinstance(text, str):
        raise ValueError("message content is not text")
    tokens = answer.get("logprobs") or []
    return _completion(
        text,
        tokens,
        int(answer.get("prompt_eval_count") or 0),
        int(answer.get("eval_count") or len(tokens)),
        complete=answer.get("done_reason") != "length",
    )


def _completion(text: str, tokens: list[dict[str, Any]], prompt: int, completion: int, *, complete: bool) -> Completion:
    """Log-probabilities are kept only when their tokens spell the text (else fields cannot be aligned)."""
    token_bytes = [bytes(t["bytes"]) if t.get("bytes") is not None else str(t["token"]).encode() for t in tokens]
    logprobs = [float(t["logprob"]) for t in tokens]
    extras: dict[str, Any] = {}
    if tokens and b"".join(token_bytes).decode("utf-8", errors="replace") != text:
        token_bytes, logprobs, extras = [], [], {"logprobs_dropped": "the tokens do not spell the answer"}
    return Completion(text, token_bytes, logprobs, prompt, completion, complete=complete, extras=extras)
