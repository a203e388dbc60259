"""How the `openai` engine talks to a model server (`[engine.options]`), with the presets applied.

What to run (the model name on the server, the prompt version) lives in `[engine]`; where and how
to reach it lives here. A preset (`pipeline/engines/openai/presets.toml`: ollama, lmstudio, vllm, llamacpp)
fills in what is not set. A base URL that is not on this machine is refused unless
`allow_remote = true`: page images would leave the machine.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any
from urllib.parse import urlsplit

from ledgerlens.pipeline.config import parse_table
from ledgerlens.pipeline.errors import ConfigError

STRUCTURED = ("json_schema", "ollama_format", "none")
INPUTS = ("images", "text")
IMAGE_FORMATS = ("jpeg", "png")
DEFAULT_BASE_URL = "http://127.0.0.1:8000/v1"
PRESET_KEYS = ("base_url", "structured_output", "logprobs", "concurrency", "notes")


@cache
def presets() -> dict[str, dict[str, Any]]:
    text = (files("ledgerlens.pipeline.engines.openai") / "presets.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


@dataclass(frozen=True)
class ServerOptions:
    preset: str = ""  # ollama | lmstudio | vllm | llamacpp; "" = a plain OpenAI-compatible server
    base_url: str = ""  # "" = the preset's (or http://127.0.0.1:8000/v1)
    allow_remote: bool = False  # page images may be sent to a server that is not on this machine
    api_key_env: str = "LEDGERLENS_API_KEY"  # the variable holding the key (the key itself is never in a file)
    structured_output: str = ""  # json_schema | ollama_format | none; "" = the preset's (json_schema)
    logprobs: str = ""  # "true" | "false"; "" = the preset's (true)
    timeout_s: float = 120.0  # per request, for the answer; a hang past it is retried
    connect_timeout_s: float = 10.0
    max_retries: int = 3  # on 429, 5xx, timeouts and refused connections, with doubling back-off
    backoff_s: float = 1.0  # first wait; a Retry-After header is honoured (up to 60 s)
    concurrency: int = 0  # requests in flight to this server from one process; 0 = the preset's (4)
    max_pixels: int = 1280 * 28 * 28  # per page image, before encoding
    image_format: str = "jpeg"  # jpeg | png
    jpeg_quality: int = 85
    max_image_bytes: int = 2_000_000  # encoded; re-encoded smaller (quality, then size) until it fits
    pages_per_request: int = 0  # 0 = every page of a document in one request
    max_new_tokens: int = 1024
    max_reasks: int = 1
    temperature: float = 0.0
    seed: int = 0
    default_confidence: float = 0.7  # per field when the server returns no log-probabilities
    # images: page images (a vision model); text: the pages' layout text instead (a text model:
    # Ollama's nuextract, any chat model), in chunks of at most context_tokens (estimated)
    input: str = "images"
    words: bool = False  # with input = "images": the pages' layout text too, beside the images
    context_tokens: int = 8192  # the server model's context, for input = "text" (Ollama's num_ctx)

    def __post_init__(self) -> None:
        if self.preset and self.preset not in presets():
            raise ConfigError(
                f"engine.options.preset: unknown server preset {self.preset!r}; known: {', '.join(sorted(presets()))}"
            )
        if self.structured_output not in ("", *STRUCTURED):
            raise ConfigError(f"engine.options.structured_output must be one of {', '.join(STRUCTURED)}")
        if self.logprobs not in ("", "true", "false"):
            raise ConfigError('engine.options.logprobs must be "true" or "false"')
        if self.image_format not in IMAGE_FORMATS:
            raise ConfigError(f"engine.options.image_format must be one of {', '.join(IMAGE_FORMATS)}")
        if self.timeout_s <= 0 or self.connect_timeout_s <= 0 or self.backoff_s < 0:
            raise ConfigError(
                "engine.options: timeout_s and connect_timeout_s must be positive, backoff_s not negative"
            )
        if not 0 <= self.max_retries <= 10 or not 0 <= self.max_reasks <= 5:
            raise ConfigError("engine.options: max_retries must be 0-10 and max_reasks 0-5")
        if self.concurrency < 0 or self.pages_per_request < 0:
            raise ConfigError("engine.options: concurrency and pages_per_request must not be negative")
        if not self.max_pixels >= 28 * 28 * 4 or not 10 <= self.jpeg_quality <= 100 or self.max_image_bytes < 10_000:
            raise ConfigError("engine.options: max_pixels >= 3136, jpeg_quality 10-100, max_image_bytes >= 10000")
        if not 16 <= self.max_new_tokens <= 32768 or not 0.0 <= self.temperature <= 2.0:
            raise ConfigError("engine.options: max_new_tokens must be 16-32768 and temperature 0-2")
        if not 0.0 <= self.default_confidence <= 1.0:
            raise ConfigError("engine.options.default_confidence must be between 0 and 1")
        if self.input not in INPUTS:
            raise ConfigError(f"engine.options.input must be one of {', '.join(INPUTS)}, got {self.input!r}")
        if self.context_tokens < 512:
            raise ConfigError("engine.options.context_tokens must be at least 512")

    @classmethod
    def parse(cls, table: dict[str, Any]) -> ServerOptions:
        """The options as configured, the preset's values filling what is left unset, checked."""
        table = dict(table)
        if isinstance(table.get("logprobs"), bool):  # `logprobs = true` reads naturally in TOML
            table["logprobs"] = str(table["logprobs"]).lower()
        options: ServerOptions = parse_table(cls, table, "engine.options")
        return options.resolved()

    def resolved(self) -> ServerOptions:
        preset = presets().get(self.preset, {})
        out = dataclasses.replace(
            self,
            base_url=(self.base_url or preset.get("base_url") or DEFAULT_BASE_URL).rstrip("/"),
            structured_output=self.structured_output or preset.get("structured_output", "json_schema"),
            logprobs=self.logprobs or str(preset.get("logprobs", True)).lower(),
            concurrency=self.concurrency or int(preset.get("concurrency", 4)),
        )
        check_base_url(out.base_url, out.allow_remote)
        return out

    @property
    def wants_logprobs(self) -> bool:
        return self.logprobs == "true"


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and `localhost`; any other name or address is another machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve anywhere


def check_base_url(url: str, allow_remote: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"engine.options.base_url must be an http(s) URL such as {DEFAULT_BASE_URL}, got {url!r}")
    if parts.username or parts.password:
        raise ConfigError("engine.options.base_url must not carry credentials; put the key in LEDGERLENS_API_KEY")
    if not allow_remote and not is_loopback(parts.hostname):
        raise ConfigError(
            f"engine.options.base_url {url!r} is not on this machine: page images and their text would be sent "
            f"to {parts.hostname}. Set `allow_remote = true` under [engine.options] (or pass --allow-remote) "
            "if that server is yours to send documents to."
        )
