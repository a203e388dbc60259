"""A test double of an OpenAI-compatible model server: a real HTTP server on a loopback port.

It records every request (path, headers, JSON body) and answers from a script of replies
(recorded responses in `fixtures/openai/`, errors, hangs), then from a responder: a fixed
recording, or the tiny random Qwen2-VL model of the vlm tests behind a vLLM-like endpoint
(`TinyModelBackend`), so the `openai` engine can run end to end. Endpoints:
`POST /v1/chat/completions` (OpenAI), `POST /api/chat` (Ollama), `GET /v1/models`.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

RECORDINGS = Path(__file__).parent / "fixtures" / "openai"


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # JSON-able; str or bytes are sent as they are (malformed answers)
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # wait before answering (a hang past the client's timeout)


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


Responder = Callable[[str, Any], Reply]


def recorded(name: str) -> Reply:
    """A recorded response: `fixtures/openai/<name>.json` = {status, headers, body}."""
    data = json.loads((RECORDINGS / f"{name}.json").read_text(encoding="utf-8"))
    return Reply(data.get("status", 200), data["body"], data.get("headers", {}))


class FakeModelServer:
    def __init__(self, responder: Responder | None = None, models: tuple[str, ...] = ("test-model",), latency_s=0.0):
        self.responder = responder or (lambda path, body: recorded("vllm_invoice_en_gb"))
        self.models = models
        self.latency_s = latency_s  # added to every POST: a server that takes time per request
        self.requests: list[Recorded] = []
        self.script: deque[Reply] = deque()
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="fake-model-server", daemon=True)

    # ------------------------------------------------------------ life

    def __enter__(self) -> FakeModelServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._closing.set()  # hanging replies stop waiting
        self._httpd.shutdown()
        self._httpd.server_close()

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def base_url(self) -> str:
        return f"{self.root}/v1"

    def enqueue(self, *replies: Reply) -> None:
        self.script.extend(replies)

    def posts(self) -> list[Recorded]:
        return [r for r in self.requests if r.method == "POST"]

    # ------------------------------------------------------------ serving

    def _reply_for(self, path: str, body: Any) -> Reply:
        with self._lock:
            scripted = self.script.popleft() if self.script else None
        return scripted or self.responder(path, body)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                server.requests.append(Recorded("GET", self.path, dict(self.headers), None))
                if self.path.rstrip("/") == "/v1/models":
                    self._send(Reply(200, {"object": "list", "data": [{"id": m} for m in server.models]}))
                else:
                    self._send(Reply(404, {"error": {"message": f"no route {self.path}"}}))

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw
                server.requests.append(Recorded("POST", self.path, dict(self.headers), body))
                with server._lock:
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    if self.path not in ("/v1/chat/completions", "/api/chat"):
                        reply = Reply(404, {"error": {"message": f"no route {self.path}"}})
                    else:
                        reply = server._reply_for(self.path, body)
                    if server.latency_s:
                        time.sleep(server.latency_s)
                    if reply.delay_s and server._closing.wait(reply.delay_s):
                        return
                    self._send(reply)
                finally:
                    with server._lock:
                        server.in_flight -= 1

            def _send(self, reply: Reply) -> None:
                if isinstance(reply.body, bytes | str):
                    data = reply.body.encode() if isinstance(reply.body, str) else reply.body
                    kind = "text/plain"
                else:
                    data, kind = json.dumps(reply.body).encode(), "application/json"
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", kind)
                    self.send_header("Content-Length", str(len(data)))
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (its timeout)
                    pass

        return Handler


# ---------------------------------------------------------------- answers built from a text


def completion(text: str, *, logprob: float = -0.01, low: dict[str, float] | None = None, finish="stop") -> dict:
    """A chat.completion whose tokens spell `text` (≈ 4 characters each), with log-probabilities;
    tokens inside the value of a key in `low` get that log-probability instead."""
    tokens = _tokens(text)
    spans = _value_spans(text, low or {})
    content, pos = [], 0
    for tok in tokens:
        lp = next((v for (a, b), v in spans if a <= pos < b), logprob)
        content.append({"token": tok, "logprob": lp, "bytes": list(tok.encode()), "top_logprobs": []})
        pos += len(tok)
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1767225600,
        "model": "test-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "logprobs": {"content": content},
                "finish_reason": finish,
            }
        ],
        "usage": {"prompt_tokens": 1234, "completion_tokens": len(tokens), "total_tokens": 1234 + len(tokens)},
    }


def _tokens(text: str) -> list[str]:
    import re

    return re.findall(r"\s+|[A-Za-z]{1,4}|[0-9]{1,3}|[^A-Za-z0-9\s]", text)


def _value_spans(text: str, low: dict[str, float]) -> list[tuple[tuple[int, int], float]]:
    from ledgerlens.pipeline.engines.model.decode import top_level_spans

    return [(span, low[key]) for key, span in top_level_spans(text).items() if key in low]


# ---------------------------------------------------------------- the tiny model behind the server


class TinyModelBackend:
    """Answers chat completions with a tiny random Qwen2-VL, held to the request's JSON schema
    (llguidance), with per-token log-probabilities: a very small vLLM."""

    def __init__(self, model_folder: Path, max_pixels: int = 448 * 448) -> None:
        from ledgerlens.pipeline.engines.transformers.engine import load_once
        from ledgerlens.pipeline.engines.transformers.generate import Generator
        from ledgerlens.pipeline.engines.transformers.options import TransformersOptions
        from ledgerlens.pipeline.engines.transformers.registry import resolve_model

        self.options = TransformersOptions(max_pixels=max_pixels, max_new_tokens=160, threads=1)
        loaded, _ = load_once(resolve_model(str(model_folder)), self.options, [])
        self.generator = Generator(loaded, self.options)
        self.lock = threading.Lock()  # one generation at a time, like one GPU

    def __call__(self, path: str, body: dict[str, Any]) -> Reply:
        from ledgerlens.pipeline.engines.model.prompts import Conversation

        messages, images = [], []
        for message in body["messages"]:
            content = message["content"]
            if isinstance(content, list):
                parts = []
                for item in content:
                    if item["type"] == "image_url":
                        images.append(_image(item["image_url"]["url"]))
                        parts.append({"type": "image"})
                    else:
                        parts.append(item)
                content = parts
            messages.append({"role": message["role"], "content": content})
        schema = (body.get("response_format") or {}).get("json_schema", {}).get("schema")
        budget = min(int(body.get("max_tokens") or 160), 160)
        with self.lock:
            self.generator.options = dataclasses.replace(self.options, max_new_tokens=budget)
            inputs = self.generator.prepare(Conversation("qwen2_vl", messages, len(images)), images)
            gen = self.generator.generate(inputs, schema)
        content_lp = [
            {"token": b.decode("utf-8", errors="replace"), "logprob": lp, "bytes": list(b), "top_logprobs": []}
            for b, lp in zip(gen.token_bytes, gen.logprobs, strict=False)
        ]
        answer = {
            "id": "chatcmpl-tiny",
            "object": "chat.completion",
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": gen.text},
                    "logprobs": {"content": content_lp} if body.get("logprobs") else None,
                    "finish_reason": "stop" if gen.complete else "length",
                }
            ],
            "usage": {"prompt_tokens": gen.prompt_tokens, "completion_tokens": gen.new_tokens},
        }
        return Reply(200, answer)


def _image(url: str) -> Any:
    from PIL import Image

    header, _, data = url.partition(",")
    assert header.startswith("data:image/") and header.endswith(";base64"), header
    return Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB")
