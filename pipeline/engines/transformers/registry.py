"""The model registry (`models/registry.toml`, shipped as package data) and where a model's files are.

A model is named by a registry id (`qwen2.5-vl-3b`), a hub id (`Qwen/Qwen2.5-VL-3B-Instruct`) or a
local folder. Weights are never fetched at run time: a registry or hub id must already be in the
Hugging Face cache (`ledgerlens models pull ID` puts it there on a machine with internet).
"""

from __future__ import annotations

import hashlib
import json
import struct
import tomllib
from dataclasses import dataclass
from functools import cache, cached_property
from importlib.resources import files
from pathlib import Path
from typing import Any

from ledgerlens.pipeline.errors import ConfigError

PRECISIONS = ("fp16", "int8", "int4")
KINDS = ("vision", "text")  # what a model reads: page images, or the pages' words (the layout text)
# model_type of the vision-language families; any other model folder is read as a text causal LM.
VISION_FAMILIES = ("qwen2_vl", "qwen2_5_vl", "qwen3_vl", "phi3_v", "phi4_multimodal")
VISION_CONFIG_KEYS = {"vision_config", "vision_tower", "image_token_id", "embd_layer"}  # a config with a vision part
WEIGHT_PATTERNS = ("*.safetensors", "pytorch_model*.bin", "model*.bin")
FINGERPRINT_SAMPLES = 16  # blocks read from each weight file
FINGERPRINT_BLOCK = 1 << 16


@dataclass(frozen=True)
class ModelEntry:
    id: str
    hub_id: str
    family: str  # the transformers model_type: qwen2_vl, qwen2_5_vl, qwen3_vl, phi3_v; qwen2, phi3 (text)
    params_b: float
    license: str
    prompt: str  # default prompt version
    kind: str = "vision"  # vision (reads page images) | text (reads the layout text of the page words)
    context_tokens: int = 32768
    trust_remote_code: bool = False
    auto_class: str = ""  # "" = by kind: AutoModelForImageTextToText (vision), AutoModelForCausalLM (text)
    tested: bool = True  # the offline tests load this family (tiny random models)
    note: str = ""


@dataclass(frozen=True)
class VramRule:
    bytes_per_param: dict[str, float]
    overhead_fraction: float
    overhead_gb: float

    def estimate_gb(self, params_b: float, precision: str) -> float:
        weights = params_b * self.bytes_per_param[precision]
        return round(weights * (1 + self.overhead_fraction) + self.overhead_gb, 1)


@dataclass(frozen=True)
class Registry:
    models: dict[str, ModelEntry]
    vram: VramRule

    def get(self, name: str) -> ModelEntry | None:
        if name in self.models:
            return self.models[name]
        return next((m for m in self.models.values() if m.hub_id.casefold() == name.casefold()), None)

    def vram_gb(self, entry: ModelEntry) -> dict[str, float]:
        return {p: self.vram.estimate_gb(entry.params_b, p) for p in PRECISIONS}


def _registry_path() -> Path:
    return Path(str(files("ledgerlens.models"))) / "registry.toml"


@cache
def load_registry(path: Path | None = None) -> Registry:
    path = path or _registry_path()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"cannot read the model registry {path}: {e}") from e
    known = {f for f in ModelEntry.__dataclass_fields__}
    models: dict[str, ModelEntry] = {}
    for table in data.get("model", []):
        unknown = sorted(set(table) - known)
        if unknown:
            raise ConfigError(f"{path}: model {table.get('id')!r} has unknown key(s) {', '.join(unknown)}")
        entry = ModelEntry(**table)
        if entry.kind not in KINDS:
            raise ConfigError(f"{path}: model {entry.id!r} has kind {entry.kind!r}; known: {', '.join(KINDS)}")
        models[entry.id] = entry
    v = data["vram"]
    return Registry(models, VramRule(dict(v["bytes_per_param"]), v["overhead_fraction"], v["overhead_gb"]))


@dataclass(frozen=True)
class ResolvedModel:
    name: str  # what the user wrote
    path: Path  # a folder with config.json
    family: str
    entry: ModelEntry | None  # None for a local folder that is not in the registry

    @property
    def trust_remote_code(self) -> bool:
        return bool(self.entry and self.entry.trust_remote_code) or self.family == "phi3_v"

    @cached_property
    def kind(self) -> str:
        """vision | text: the registry's word, else the folder's config (a VLM family or a vision
        tower in it: vision; any other model: a text causal LM)."""
        if self.entry is not None:
            return self.entry.kind
        if self.family in VISION_FAMILIES:
            return "vision"
        try:
            config = json.loads((self.path / "config.json").read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            config = {}
        return "vision" if VISION_CONFIG_KEYS & set(config) else "text"

    @property
    def auto_class(self) -> str:
        """The transformers Auto class that loads the weights."""
        if self.entry is not None and self.entry.auto_class:
            return self.entry.auto_class
        vision = self.kind == "vision" and self.family != "phi3_v"
        return "AutoModelForImageTextToText" if vision else "AutoModelForCausalLM"


def pull_command(name: str) -> str:
    return f"ledgerlens models pull {name}"


def hf_cache_dir() -> str:
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)


def resolve_model(name: str, revision: str = "", registry: Registry | None = None) -> ResolvedModel:
    """The folder holding `name`'s files, offline. A missing model is a ConfigError naming the fix."""
    if not name:
        raise ConfigError(
            "the transformers engine needs a model: set [engine] model in ledgerlens.toml or pass --model "
            "(see `ledgerlens models list`, or give a local folder)"
        )
    registry = registry or load_registry()
    folder = Path(name).expanduser()
    if folder.is_dir():
        return ResolvedModel(name, folder.resolve(), _family(folder), _entry_for_folder(folder, registry))
    entry = registry.get(name)
    if entry is None and (name.startswith((".", "/", "~")) or name.count("/") != 1):
        known = ", ".join(sorted(registry.models))
        raise ConfigError(f"model {name!r} is neither a folder nor a registry id; known ids: {known}")
    hub_id = entry.hub_id if entry else name
    path = _cached_snapshot(hub_id, revision)
    if path is None:
        raise ConfigError(
            f"model {name!r} ({hub_id}{'@' + revision if revision else ''}) is not on this machine: "
            f"looked in the Hugging Face cache {hf_cache_dir()} (HF_HOME / HF_HUB_CACHE) and found no folder "
            f"named {name!r}. Fetch it on a machine with internet: `{pull_command(entry.id if entry else hub_id)}` "
            f"(or point --model at a folder holding the model)."
        )
    return ResolvedModel(name, path, entry.family if entry else _family(path), entry)


def weight_files(folder: Path) -> list[Path]:
    return sorted({p for pattern in WEIGHT_PATTERNS for p in folder.glob(pattern) if p.is_file()})


def require_weights(resolved: ResolvedModel) -> None:
    """A folder with a config but no weights (an interrupted download, a config copied alone) is
    a ConfigError here, not a loader's traceback later."""
    if not weight_files(resolved.path):
        raise ConfigError(
            f"model {resolved.name!r} has no weights in {resolved.path} (no *.safetensors or pytorch_model*.bin "
            f"beside config.json): fetch them on a machine with internet (`{pull_command(resolved.name)}`) "
            "or point --model at a folder holding the whole model"
        )


def weights_fingerprint(folder: Path) -> str:
    """sha256 over each weight file's name, size, safetensors header (tensor names, dtypes, shapes)
    and 16 blocks of 64 KiB spread over it: a few MB read whatever the model's size, and two
    different checkpoints (another size, another fine-tune) differ in it. What an adapter records
    of the base model it was trained on."""
    digest = hashlib.sha256()
    for path in weight_files(folder):
        size = path.stat().st_size
        digest.update(f"{path.name}\0{size}\0".encode())
        with path.open("rb") as f:
            if path.suffix == ".safetensors" and size >= 8:
                (header_len,) = struct.unpack("<Q", f.read(8))
                digest.update(f.read(min(header_len, size - 8)))
            for i in range(FINGERPRINT_SAMPLES):
                f.seek(i * max(0, size - FINGERPRINT_BLOCK) // max(1, FINGERPRINT_SAMPLES - 1))
                digest.update(f.read(FINGERPRINT_BLOCK))
    return digest.hexdigest()


def _cached_snapshot(hub_id: str, revision: str) -> Path | None:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        found = snapshot_download(hub_id, revision=revision or None, local_files_only=True)
    except (LocalEntryNotFoundError, FileNotFoundError, ValueError, OSError):
        return None
    return Path(found) if (Path(found) / "config.json").is_file() else None


def _family(folder: Path) -> str:
    try:
        cfg = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise ConfigError(f"{folder} is not a model folder (config.json unreadable: {e})") from e
    return str(cfg.get("model_type", "unknown"))


def _entry_for_folder(folder: Path, registry: Registry) -> ModelEntry | None:
    # A folder that is a hub snapshot (…/models--Qwen--Qwen2-VL-2B-Instruct/snapshots/<sha>) keeps its entry.
    for part in folder.resolve().parts:
        if part.startswith("models--"):
            return registry.get(part.removeprefix("models--").replace("--", "/"))
    return None


def pull(name: str, revision: str = "", registry: Registry | None = None) -> Path:
    """Download a model into the Hugging Face cache. Needs internet; the caller decides whether the
    hub may be reached (the CLI lifts its HF_HUB_OFFLINE default for `models pull` only)."""
    registry = registry or load_registry()
    entry = registry.get(name)
    if entry is None and name.count("/") != 1:
        raise ConfigError(f"unknown model {name!r}; known ids: {', '.join(sorted(registry.models))}")
    hub_id = entry.hub_id if entry else name
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(hub_id, revision=revision or None))
    except Exception as e:  # the hub client raises many network error types; all mean the same here
        raise ConfigError(
            f"could not download {hub_id} ({type(e).__name__}: {e}). `models pull` needs internet access to "
            f"the Hugging Face hub; on an offline machine, pull on one with internet and copy its cache "
            f"folder ({hf_cache_dir()}) here, or point --model at a folder holding the model."
        ) from e


def describe_entry(entry: ModelEntry, registry: Registry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "hub_id": entry.hub_id,
        "family": entry.family,
        "kind": entry.kind,
        "params_b": entry.params_b,
        "license": entry.license,
        "prompt": entry.prompt,
        "vram_gb": registry.vram_gb(entry),
        "note": entry.note,
    }
