"""HTTP to a model server: one request at a time per slot, timeouts, retries with back-off.

- At most `concurrency` requests per server are in flight from this process (a semaphore per
  base URL, shared by every engine and thread). Across processes and machines the flows gate
  the model stage with a Prefect concurrency limit of the same size.
- 429, 5xx, timeouts and refused or dropped connections are retried `max_retries` times, waiting
  `backoff_s`, then twice as long each time (or what `Retry-After` says, up to 60 s). What is still
  failing then is a transient `DocumentError`: the document is tried again later, not failed.
- Other 4xx answers (bad request, unknown model, wrong key) are not retried: the same request
  would get the same answer.
- The API key is read from the environment by the caller and only ever put in the
  `Authorization` header: it is in no message, log line or provenance record.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import httpx
from ledgerlens.pipeline.engines.openai.dialects import BadAnswer, Completion, decode_answer
from ledgerlens.pipeline.engines.openai.options import ServerOptions
from ledgerlens.pipeline.errors import DocumentError

log = logging.getLogger(__name__)

RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
MAX_RETRY_AFTER_S = 60.0
STAGE = "extract"

_slots: dict[str, threading.BoundedSemaphore] = {}
_slots_lock = threading.Lock()


def server_slots(base_url: str, concurrency: int) -> threading.BoundedSemaphore:
    """The process-wide semaphore of one server (its size is fixed by the first engine that asks)."""
    with _slots_lock:
        if base_url not in _slots:
            _slots[base_url] = threading.BoundedSemaphore(concurrency)
        return _slots[base_url]


class ServerClient:
    def __init__(self, options: ServerOptions, api_key: str | None, transport: httpx.BaseTransport | None = None):
        self.options = options
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.authenticated = bool(api_key)
        self._http = httpx.Client(
            timeout=httpx.Timeout(options.timeout_s, connect=options.connect_timeout_s),
            headers=headers,
            transport=transport,
            trust_env=False,  # no proxy from the environment: documents go to the configured server only
        )
        self.slots = server_slots(options.base_url, options.concurrency)

    def complete(self, url: str, body: dict[str, Any]) -> Completion:
        """POST the request; the decoded answer, with the time it took and the retries it needed."""
        started = time.perf_counter()
        answer, retries = self._post(url, body)
        try:
            completion = decode_answer(self.options, answer)
        except BadAnswer as e:
            raise DocumentError(
                "model_server_bad_answer",
                f"The model server at {self.options.base_url} answered with {e}.",
                stage=STAGE,
                hint="Check that base_url points at the server's OpenAI-compatible API and the preset matches it.",
            ) from None
        completion.seconds = time.perf_counter() - started
        completion.extras["retries"] = retries
        return completion

    def _post(self, url: str, body: dict[str, Any]) -> tuple[Any, int]:
        waits = self.options.max_retries
        for attempt in range(waits + 1):
            try:
                with self.slots:
                    response = self._http.post(url, json=body)
            except httpx.TimeoutException as e:
                failure: DocumentError = _timeout(self.options, e)
                delay = self._backoff(attempt, None)
            except httpx.TransportError as e:  # refused, reset, DNS, protocol errors
                failure = _unreachable(self.options, e)
                delay = self._backoff(attempt, None)
            else:
                if response.status_code < 400:
                    try:
                        return response.json(), attempt
                    except ValueError:
                        raise DocumentError(
                            "model_server_bad_answer",
                            f"The model server at {self.options.base_url} answered with something that is not JSON.",
                            stage=STAGE,
                            hint="Check that base_url points at the server's OpenAI-compatible API.",
                        ) from None
                if response.status_code not in RETRY_STATUS:
                    raise _refused(self.options, response, body.get("model"))
                failure = _busy(self.options, response)
                delay = self._backoff(attempt, response.headers.get("retry-after"))
            if attempt < waits:
                log.warning("%s (try %d of %d); again in %.1f s", failure.message, attempt + 1, waits + 1, delay)
                time.sleep(delay)
        raise failure

    def _backoff(self, attempt: int, retry_after: str | None) -> float:
        if retry_after:
            try:
                return min(max(float(retry_after), 0.0), MAX_RETRY_AFTER_S)
            except ValueError:
                pass  # an HTTP date: use our own back-off
        return min(self.options.backoff_s * 2**attempt, MAX_RETRY_AFTER_S)

    def close(self) -> None:
        self._http.close()


def _timeout(options: ServerOptions, e: Exception) -> DocumentError:
    return DocumentError(
        "model_server_timeout",
        f"The model server at {options.base_url} did not answer within {options.timeout_s:g} s "
        f"({e.__class__.__name__}).",
        stage=STAGE,
        hint="The server may be overloaded: lower the number of workers or engine.options.concurrency, "
        "or raise engine.options.timeout_s.",
        transient=True,
    )


def _unreachable(options: ServerOptions, e: Exception) -> DocumentError:
    return DocumentError(
        "model_server_unreachable",
        f"The model server at {options.base_url} could not be reached ({e.__class__.__name__}: {e}).",
        stage=STAGE,
        hint="Is the server running and listening there? Check engine.options.base_url (or --base-url).",
        transient=True,
    )


def _busy(options: ServerOptions, response: httpx.Response) -> DocumentError:
    return DocumentError(
        "model_server_busy",
        f"The model server at {options.base_url} answered {response.status_code} {response.reason_phrase}: "
        f"{_error_text(response)}",
        stage=STAGE,
        hint="The server is overloaded or restarting; the document is tried again later.",
        transient=True,
    )


def _refused(options: ServerOptions, response: httpx.Response, model: Any) -> DocumentError:
    hints = {
        401: f"The server wants an API key: put it in the environment variable {options.api_key_env}.",
        403: f"The server refused the API key in {options.api_key_env}.",
        404: f"Is the model {model!r} served there (GET {options.base_url}/models), and is the preset right?",
    }
    return DocumentError(
        "model_server_refused",
        f"The model server at {options.base_url} refused the request: {response.status_code} "
        f"{response.reason_phrase}: {_error_text(response)}",
        stage=STAGE,
        hint=hints.get(response.status_code, "Check the model name, the preset and the server's log."),
    )


def _error_text(response: httpx.Response) -> str:
    """The server's own error message, short."""
    try:
        payload = response.json()
        error = payload.get("error", payload) if isinstance(payload, dict) else payload
        text = error.get("message", error) if isinstance(error, dict) else error
    except ValueError:
        text = response.text
    return str(text).strip()[:300] or "(no message)"
