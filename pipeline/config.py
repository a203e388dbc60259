"""Typed configuration, read once from `ledgerlens.toml` at the entry point.

Three kinds of setting are kept apart: what to run (`engine`: name, model spec), how the pipeline
treats documents (`pipeline`: DPI, limits, OCR languages, review threshold) and where results go
(`store`, `export`, and the review screen's address, `review`). Unknown keys are errors: a typo
must not be silently ignored.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledgerlens.pipeline.errors import ConfigError

CONFIG_NAME = "ledgerlens.toml"


@dataclass(frozen=True)
class PipelineOptions:
    dpi: int = 200
    # Rasterized pages and input images above this many pixels are refused (decompression bombs,
    # poster-sized PDF pages). 100 MP is an A4 page at ~1400 DPI.
    max_image_pixels: int = 100_000_000
    max_pages: int = 500
    max_file_mb: int = 200
    ocr_languages: tuple[str, ...] = ("eng", "deu", "fra", "spa")
    ocr_timeout_s: int = 120
    # Tesseract page segmentation: 0 = auto (6, one block, for narrow receipt-shaped pages, whose
    # right-hand amount column psm 3 tends to drop; 3, automatic layout, for everything else).
    ocr_psm: int = 0
    # A second, slower OCR (PP-OCR via rapidocr) for receipts whose first reading left the total,
    # date or shop unsure: "rapidocr" (when installed) or "none".
    second_ocr: str = "rapidocr"
    # A page whose text layer has fewer printable characters than this is treated as scanned.
    min_text_layer_chars: int = 20
    # Fields below this confidence send the document to review.
    review_confidence: float = 0.5

    def __post_init__(self) -> None:
        if not 50 <= self.dpi <= 600:
            raise ConfigError(f"pipeline.dpi must be between 50 and 600, got {self.dpi}")
        if not 0.0 <= self.review_confidence <= 1.0:
            raise ConfigError("pipeline.review_confidence must be between 0 and 1")
        if self.ocr_psm not in (0, 1, 3, 4, 6, 11, 12):
            raise ConfigError(
                f"pipeline.ocr_psm must be 0 (auto) or a Tesseract page mode 1/3/4/6/11/12, got {self.ocr_psm}"
            )
        if self.second_ocr not in ("rapidocr", "none"):
            raise ConfigError(f"pipeline.second_ocr must be 'rapidocr' or 'none', not {self.second_ocr!r}")
        for name in ("max_image_pixels", "max_pages", "max_file_mb", "ocr_timeout_s"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"pipeline.{name} must be positive, got {getattr(self, name)}")
        if not all(isinstance(lang, str) and lang for lang in self.ocr_languages):
            raise ConfigError("pipeline.ocr_languages must be a list of Tesseract language names")
        if not self.ocr_languages:
            raise ConfigError("pipeline.ocr_languages must name at least one Tesseract language")


# Kinds of input an engine can be routed by (decided by the chain after loading a document):
# a PDF with a text layer on every page; an image, or a PDF with a page that has none; an XML
# e-invoice, or a PDF that carries one (Factur-X, ZUGFeRD, XRechnung).
INPUT_KINDS = ("born_digital", "scanned", "einvoice")
DEFAULT_ROUTE = "default"  # [engine] itself: reads every kind without a route


@dataclass(frozen=True)
class EngineConfig:
    name: str = "ocr"
    # The model spec (what to run): registry id, hub id or local folder; unused by the ocr engine.
    model: str = ""
    revision: str = ""  # hub revision (branch, tag or commit) of a registry or hub id
    prompt_version: str = ""  # empty: the registry's default for the model
    adapter: str = ""  # LoRA adapter folder used when no entry of `adapters` matches
    # LoRA adapter folder per document type ("invoice") or vendor ("vendor:Acme GmbH", matched in the page text)
    adapters: dict[str, Any] = field(default_factory=dict)
    # How to run it (device, dtype, quantization, ...): engine-specific, checked by the engine.
    options: dict[str, Any] = field(default_factory=dict)
    # Input kind (INPUT_KINDS) -> the engine that reads it, as a table of this one's keys: the
    # same engine's table overrides these settings key by key; another engine starts from its defaults.
    routes: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.routes) - set(INPUT_KINDS))
        if unknown:
            raise ConfigError(
                f"unknown input kind(s) in [engine.routes]: {', '.join(unknown)}; known: {', '.join(INPUT_KINDS)}"
            )
        for kind in self.routes:
            self.route(kind)  # a typo in a route is an error now, not when its first document comes

    def route(self, name: str) -> EngineConfig:
        """The engine settings of a route: an input kind's [engine.routes] table, or [engine]
        itself for `DEFAULT_ROUTE` (and for a kind without a route of its own)."""
        table = self.routes.get(name)
        if table is None:
            return dataclasses.replace(self, routes={})
        where = f"engine.routes.{name}"
        if not isinstance(table, dict):
            raise ConfigError(f'[{where}] must be a table, e.g. [{where}] name = "ocr"')
        if "routes" in table:
            raise ConfigError(f"[{where}] cannot hold routes of its own")
        if table.get("name", self.name) != self.name:
            return _build(EngineConfig, table, where)
        merged = {k: v for k, v in dataclasses.asdict(self).items() if k != "routes"}
        for key in ("options", "adapters"):  # tables: merged key by key
            if isinstance(table.get(key, {}), dict):
                merged[key] = {**merged[key], **table.get(key, {})}
                table = {k: v for k, v in table.items() if k != key}
        return _build(EngineConfig, {**merged, **table}, where)

    def route_names(self) -> list[str]:
        """The routes that read documents: each routed kind, and `DEFAULT_ROUTE` while a kind has none."""
        routed = [kind for kind in INPUT_KINDS if kind in self.routes]
        return routed if len(routed) == len(INPUT_KINDS) else [*routed, DEFAULT_ROUTE]

    def route_of(self, kind: str) -> str:
        """The route that reads documents of this input kind."""
        return kind if kind in self.routes else DEFAULT_ROUTE


@dataclass(frozen=True)
class StoreConfig:
    url: str = ""  # empty: sqlite:///<workspace>/ledgerlens.db


@dataclass(frozen=True)
class ExportConfig:
    xlsx: str = "exports/ledger.xlsx"
    csv_dir: str = "exports/csv"


_WILDCARD_HOSTS = ("0.0.0.0", "::", "")


@dataclass(frozen=True)
class ReviewConfig:
    """Where `ledgerlens review serve` listens, and so where the workbook, `show` and the Prefect
    artifacts link to. Loopback by default: any other host needs a token (checked by `serve`)."""

    host: str = "127.0.0.1"
    port: int = 8765

    def __post_init__(self) -> None:
        if not 1 <= self.port <= 65535:
            raise ConfigError(f"review.port must be between 1 and 65535, got {self.port}")
        if not self.host or any(c in self.host for c in " /?#@"):
            raise ConfigError(f"review.host must be a host name or an IP address, got {self.host!r}")

    @property
    def base_url(self) -> str:
        """The screen's address; a wildcard bind address (0.0.0.0, ::) is linked as localhost."""
        host = "localhost" if self.host in _WILDCARD_HOSTS else self.host
        host = f"[{host}]" if ":" in host else host  # an IPv6 literal
        return f"http://{host}:{self.port}"

    def document_url(self, doc_id: int) -> str:
        return f"{self.base_url}/documents/{int(doc_id)}"


@dataclass(frozen=True)
class Config:
    pipeline: PipelineOptions = field(default_factory=PipelineOptions)
    engine: EngineConfig = field(default_factory=EngineConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    export: ExportConfig = field(default_factory=ExportConfig)
    review: ReviewConfig = field(default_factory=ReviewConfig)

    def for_route(self, name: str) -> Config:
        """This configuration with the route's engine settings as [engine] (what engines are given)."""
        return dataclasses.replace(self, engine=self.engine.route(name))

    def to_dict(self) -> dict[str, Any]:
        """The TOML tables as plain data (a served Prefect flow takes it as a JSON parameter);
        `parse_config` reads it back."""
        return {name: _plain(dataclasses.asdict(getattr(self, name))) for name in SECTIONS}


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _coerce(value: Any, default: Any, where: str, name: str) -> Any:
    expected = type(default)
    if expected is tuple and isinstance(value, list):
        return tuple(value)
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, expected) and not (expected is int and isinstance(value, bool)):
        return value
    raise ConfigError(f"[{where}] {name} must be {expected.__name__}, got {type(value).__name__}")


def _build(cls: type, table: dict[str, Any], where: str) -> Any:
    defaults = {f.name: getattr(cls(), f.name) for f in dataclasses.fields(cls)}
    unknown = sorted(set(table) - set(defaults))
    if unknown:
        raise ConfigError(f"unknown key(s) in [{where}]: {', '.join(unknown)}; known: {', '.join(defaults)}")
    return cls(**{k: _coerce(v, defaults[k], where, k) for k, v in table.items()})


def parse_table(cls: type, table: dict[str, Any], where: str) -> Any:
    """A typed settings dataclass from a TOML table, with the same checks as the sections here
    (engines use it for their `[engine.options]`)."""
    return _build(cls, table, where)


SECTIONS: dict[str, type] = {
    "pipeline": PipelineOptions,
    "engine": EngineConfig,
    "store": StoreConfig,
    "export": ExportConfig,
    "review": ReviewConfig,
}


def parse_config(data: dict[str, Any]) -> Config:
    unknown = sorted(set(data) - set(SECTIONS))
    if unknown:
        raise ConfigError(f"unknown section(s): {', '.join(unknown)}; known: {', '.join(SECTIONS)}")
    parts = {}
    for name, cls in SECTIONS.items():
        table = data.get(name, {})
        if not isinstance(table, dict):
            raise ConfigError(f"[{name}] must be a table")
        parts[name] = _build(cls, table, name)
    return Config(**parts)


def load_config(path: Path | None) -> Config:
    """The configuration in `path` (defaults where there is none). Read once, at the entry point:
    the command line builds the `Config` and hands it down."""
    if path is None or not path.exists():
        return Config()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"cannot read {path}: {e}") from e
    try:
        return parse_config(data)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None


DEFAULT_TOML = """\
# ledgerlens workspace configuration. Every key is optional; unknown keys are errors.

[pipeline]
dpi = 200                                   # rasterization DPI for scanned pages
max_image_pixels = 100000000                # refuse images/pages larger than this (decompression bombs)
max_pages = 500
max_file_mb = 200
ocr_languages = ["eng", "deu", "fra", "spa"]  # Tesseract language packs
ocr_psm = 0                                 # 0: auto (6 for receipt-shaped pages, else 3)
second_ocr = "rapidocr"                     # re-read unsure receipts with PP-OCR ("none": never)
review_confidence = 0.5                     # fields below this confidence go to review

[engine]
name = "ocr"                                # offline default: Tesseract + layout-aware field finder
# A model server instead (Ollama, LM Studio, vLLM, llama.cpp server; see the README):
# name = "openai"
# model = "qwen2.5vl:7b"                    # the model's name on the server
# [engine.options]
# preset = "ollama"                         # ollama | lmstudio | vllm | llamacpp
# base_url = "http://127.0.0.1:11434/v1"    # another machine also needs allow_remote = true
# An engine per kind of input (born_digital, scanned, einvoice; see the README's "Routes"):
# [engine.routes.scanned]
# name = "transformers"
# model = "qwen2-vl-2b"

[store]
url = ""                                    # empty: sqlite:///<workspace>/ledgerlens.db; or postgresql+psycopg://...

[export]
xlsx = "exports/ledger.xlsx"
csv_dir = "exports/csv"

[review]
host = "127.0.0.1"                          # `ledgerlens review serve` listens here; links point here
port = 8765                                 # (another host than loopback needs --token)
"""
