"""What an adapter was made from (training.json beside it) and registering it in a workspace.

training.json records the base model (id, revision, snapshot, a fingerprint of its weights that
`engines/transformers/adapters.py` checks when the adapter is attached), the prompt version, each
schema's hash, every example's sha256, the hyper-parameters, validation scores before and after,
time and device. `register_adapter` writes the adapter into `[engine.adapters]` of the
workspace's ledgerlens.toml with tomlkit, so the user's comments and layout stay as they were.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from ledgerlens.pipeline.config import parse_config
from ledgerlens.pipeline.doctypes.schemas import DocumentSchema
from ledgerlens.pipeline.engines.model.constrain import model_schema
from ledgerlens.pipeline.engines.transformers.adapters import TRAINING_RECORD, VENDOR, AdapterRules
from ledgerlens.pipeline.engines.transformers.registry import ResolvedModel, weights_fingerprint
from ledgerlens.pipeline.errors import ConfigError

RECORD_SCHEMA = "ledgerlens-adapter/1"


def base_model(resolved: ResolvedModel, revision: str) -> dict[str, Any]:
    parts = resolved.path.parts
    snapshot = parts[-1] if len(parts) > 1 and parts[-2] == "snapshots" else None  # a hub cache folder
    return {
        "name": resolved.name,
        "hub_id": resolved.entry.hub_id if resolved.entry else None,
        "revision": revision or None,
        "snapshot": snapshot,
        "path": str(resolved.path),
        "family": resolved.family,
        "weights_fingerprint": weights_fingerprint(resolved.path),
    }


def schema_hashes(schemas: list[DocumentSchema]) -> dict[str, dict[str, str]]:
    """Per document type: its version and the sha256 of the model-facing schema (what the grammar holds)."""
    out = {}
    for schema in sorted(schemas, key=lambda s: s.doc_type):
        text = json.dumps(model_schema(schema.bundled()), sort_keys=True, ensure_ascii=False)
        out[schema.doc_type] = {"version": schema.version, "sha256": hashlib.sha256(text.encode()).hexdigest()}
    return out


def device_record(device: str, dtype: str, quantization: str) -> dict[str, Any]:
    import torch

    record: dict[str, Any] = {"device": device, "dtype": dtype, "quantization": quantization}
    for package in ("torch", "transformers", "peft", "bitsandbytes"):
        with contextlib.suppress(PackageNotFoundError):
            record[package] = version(package)
    if device.startswith("cuda"):
        record["gpu"] = torch.cuda.get_device_name(torch.device(device))
    else:
        record["cpu"] = platform.processor() or platform.machine()
        record["threads"] = torch.get_num_threads()
    return record


def write_record(out: Path, record: dict[str, Any]) -> Path:
    path = out / TRAINING_RECORD
    path.write_text(json.dumps({"schema": RECORD_SCHEMA, **record}, indent=2, ensure_ascii=False) + "\n", "utf-8")
    return path


def check_register_key(key: str, doc_types: list[str]) -> None:
    """A key of `[engine.adapters]`: a document type (`invoice`) or `vendor:NAME` (checked before training)."""
    if not key.startswith(VENDOR) and key not in doc_types:
        raise ConfigError(f"--register {key!r}: name a document type ({', '.join(doc_types)}) or vendor:NAME")
    AdapterRules.parse("", {key: "adapter"})  # the same checks as when the configuration is read


def register_adapter(config_path: Path, key: str, folder: Path, doc_types: list[str]) -> None:
    """`[engine.adapters] key = folder` in the workspace configuration, comments kept; the file is
    written only if the configuration still reads."""
    import tomlkit

    check_register_key(key, doc_types)
    text = config_path.read_text(encoding="utf-8")
    document = tomlkit.parse(text)
    engine = document.setdefault("engine", tomlkit.table())
    if "adapters" not in engine:
        engine["adapters"] = tomlkit.table()
    engine["adapters"][key] = str(folder)
    updated = tomlkit.dumps(document)
    try:
        parse_config(tomllib.loads(updated))
    except (ConfigError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"{config_path}: registering the adapter would break the configuration ({e})") from e
    temporary = config_path.with_name(config_path.name + ".tmp")
    temporary.write_text(updated, encoding="utf-8")
    os.replace(temporary, config_path)
