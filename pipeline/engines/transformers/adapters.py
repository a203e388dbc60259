"""LoRA adapters (PEFT): loaded once beside the base model, chosen per document, switched in place.

An adapter is a folder written by PEFT's `save_pretrained` (adapter_config.json +
adapter_model.safetensors). The engine's configuration names a default adapter and adapters per
document type (`invoice`) or vendor (`vendor:Acme GmbH`, matched in the page text). Switching is
`set_adapter`: the base weights are never reloaded. The adapter's content hash goes into provenance.

An adapter trained by `ledgerlens train` carries `training.json` with the fingerprint of its base
model's weights: attaching it to another base model (another size, another fine-tune, another
family) is a ConfigError naming both, not a quietly wrong extraction.
"""

from __future__ import annotations

import hashlib
import json
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledgerlens.pipeline.engines.transformers.registry import weights_fingerprint
from ledgerlens.pipeline.errors import ConfigError
from ledgerlens.pipeline.normalize import fold

ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors", "adapter_model.bin")
VENDOR = "vendor:"
TRAINING_RECORD = "training.json"  # written by `ledgerlens train` beside the adapter


@dataclass(frozen=True)
class Adapter:
    name: str  # PEFT adapter name: a0, a1, ...
    path: Path
    sha256: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "path": str(self.path), "sha256": self.sha256}


def adapter_hash(folder: Path) -> str:
    """sha256 over the adapter's config and weights (names and bytes): identical adapters, identical hash."""
    digest = hashlib.sha256()
    present = [folder / n for n in ADAPTER_FILES if (folder / n).is_file()]
    for path in present:
        digest.update(path.name.encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def check_folder(path: Path) -> Path:
    path = path.expanduser().resolve()
    if not (path / "adapter_config.json").is_file():
        raise ConfigError(
            f"LoRA adapter {path} not found: expected a folder with adapter_config.json and "
            "adapter_model.safetensors (as PEFT's save_pretrained writes them); see models/adapters/README.md"
        )
    return path


def check_base(adapter: Path, base_path: Path, fingerprint: str) -> None:
    """An adapter whose training record names other base weights than `base_path`'s is refused."""
    record = adapter / TRAINING_RECORD
    if not record.is_file():
        return  # an adapter made elsewhere: PEFT's own shape checks are all there is
    try:
        base = json.loads(record.read_text(encoding="utf-8"))["base_model"]
        expected = str(base["weights_fingerprint"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ConfigError(f"LoRA adapter {adapter}: {TRAINING_RECORD} is unreadable ({e})") from e
    if expected != fingerprint:
        raise ConfigError(
            f"LoRA adapter {adapter} was trained on base model {base.get('name')!r} ({base.get('path')}, weights "
            f"{expected[:12]}), but this engine loads {base_path} (weights {fingerprint[:12]}): an adapter only "
            "fits the base model it was trained on. Use that model (--model), or train an adapter for this one "
            "(`ledgerlens train`)."
        )


@dataclass(frozen=True)
class AdapterRules:
    default: str  # folder or ""
    by_doc_type: dict[str, str]
    by_vendor: dict[str, str]  # folded vendor text -> folder

    @classmethod
    def parse(cls, default: str, table: dict[str, Any]) -> AdapterRules:
        by_type, by_vendor = {}, {}
        for key, value in table.items():
            if not isinstance(value, str) or not value:
                raise ConfigError(f"[engine.adapters] {key} must be an adapter folder path")
            if key.startswith(VENDOR):
                vendor = fold(key.removeprefix(VENDOR)).strip()
                if not vendor:
                    raise ConfigError(f"[engine.adapters] {key!r}: name the vendor after 'vendor:'")
                by_vendor[vendor] = value
            else:
                by_type[key] = value
        return cls(default, by_type, by_vendor)

    def folders(self) -> list[str]:
        return list(dict.fromkeys(f for f in (*self.by_vendor.values(), *self.by_doc_type.values(), self.default) if f))

    def choose(self, doc_type: str, page_text: str) -> str:
        """Folder for this document: a vendor named on the page, else its type, else the default ('' = base)."""
        text = " " + re.sub(r"\s+", " ", fold(page_text)) + " "
        for vendor, folder in self.by_vendor.items():
            if f" {vendor} " in text or vendor in text:
                return folder
        return self.by_doc_type.get(doc_type, self.default)


class AdapterSet:
    """Every configured adapter attached to one PeftModel; `activate` switches between them."""

    def __init__(self, base_model: Any, folders: list[str], base_path: Path | None = None) -> None:
        self.model = base_model
        self.adapters: dict[str, Adapter] = {}
        fingerprint = weights_fingerprint(base_path) if base_path is not None and any(folders) else ""
        for i, folder in enumerate(f for f in folders if f):
            path = check_folder(Path(folder))
            if base_path is not None:
                check_base(path, base_path, fingerprint)
            self.adapters[folder] = Adapter(f"a{i}", path, adapter_hash(path))
        if self.adapters:
            self.model = self._attach(base_model)

    def _attach(self, base_model: Any) -> Any:
        model = None
        for adapter in self.adapters.values():
            try:
                with warnings.catch_warnings():
                    # peft 0.21 still reads transformers' deprecated alias; harmless until transformers 6
                    warnings.filterwarnings("ignore", "`is_gradient_checkpointing` is deprecated", FutureWarning)
                    model = self._load_one(base_model, model, adapter)
            except (ValueError, KeyError, RuntimeError, OSError) as e:
                raise ConfigError(f"LoRA adapter {adapter.path} does not fit this model: {e}") from e
        assert model is not None  # _attach runs only when there is an adapter
        model.eval()
        return model

    @staticmethod
    def _load_one(base_model: Any, model: Any, adapter: Adapter) -> Any:
        from peft import PeftModel

        if model is None:
            return PeftModel.from_pretrained(base_model, str(adapter.path), adapter_name=adapter.name)
        model.load_adapter(str(adapter.path), adapter_name=adapter.name)
        return model

    def activate(self, folder: str) -> Adapter | None:
        """Make `folder`'s adapter the active one ('' = none: the base model). Returns what is active."""
        if not folder:
            return None
        adapter = self.adapters[folder]
        self.model.set_adapter(adapter.name)
        return adapter

    def base_model_context(self, active: Adapter | None) -> Any:
        """A context in which generation runs on the base weights when no adapter applies."""
        from contextlib import nullcontext

        if active is None and self.adapters:
            return self.model.disable_adapter()
        return nullcontext()
