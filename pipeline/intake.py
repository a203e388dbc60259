"""Workspace folders and the life of a file in them.

    intake/ -> processing/ -> done/   (ok, needs_review)
                           -> failed/ (+ <name>.error.json: stage, code, reason, hint, time)

Moves are renames inside one workspace (atomic on one file system). A name already taken in
the destination gets the document's short hash appended, so nothing is ever overwritten.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from .config import CONFIG_NAME, DEFAULT_TOML, Config, load_config
from .errors import ConfigError

FOLDERS = ("intake", "processing", "done", "failed", "exports")
ERROR_SUFFIX = ".error.json"


@dataclass(frozen=True)
class Workspace:
    root: Path

    @property
    def intake(self) -> Path:
        return self.root / "intake"

    @property
    def processing(self) -> Path:
        return self.root / "processing"

    @property
    def done(self) -> Path:
        return self.root / "done"

    @property
    def failed(self) -> Path:
        return self.root / "failed"

    @property
    def exports(self) -> Path:
        return self.root / "exports"

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_NAME

    @property
    def schemas_dir(self) -> Path:
        return self.root / "schemas"

    def config(self) -> Config:
        return load_config(self.config_path)


def init_workspace(root: Path) -> Workspace:
    """Create the folders and a commented ledgerlens.toml; keeps anything already there."""
    root = root.expanduser().resolve()
    for name in FOLDERS:
        (root / name).mkdir(parents=True, exist_ok=True)
    ws = Workspace(root)
    if not ws.config_path.exists():
        ws.config_path.write_text(DEFAULT_TOML, encoding="utf-8")
    return ws


def find_workspace(path: Path) -> Workspace:
    """The workspace holding `path` (the folder itself, or an ancestor with ledgerlens.toml)."""
    path = path.expanduser().resolve()
    for candidate in (path, *path.parents):
        if (candidate / CONFIG_NAME).is_file():
            return Workspace(candidate)
    raise ConfigError(
        f"{path} is not inside a ledgerlens workspace (no {CONFIG_NAME} found); create one with `ledgerlens init DIR`"
    )


def is_ignored_name(name: str) -> bool:
    """Names that are never documents: hidden files, partial uploads, office lock files, our own notes."""
    return name.startswith((".", "~$")) or name.endswith((".part", ".partial", ".crdownload", ".tmp", ERROR_SUFFIX))


def list_inputs(folder: Path) -> list[Path]:
    """Files to process under `folder`, recursively, in a stable order; never follows symlinks."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not is_ignored_name(d))
        found.extend(Path(dirpath) / f for f in sorted(filenames) if not is_ignored_name(f))
    return found


def _taken(target: Path) -> bool:
    # A failed file's note counts too: a new file must not inherit (and overwrite) an old note.
    return target.exists() or Path(str(target) + ERROR_SUFFIX).exists()


def _free_name(folder: Path, name: str, tag: str) -> Path:
    target = folder / name
    if not _taken(target):
        return target
    stem, dot, ext = name.rpartition(".")
    base = f"{stem}.{tag}.{ext}" if dot and stem else f"{name}.{tag}"
    target = folder / base
    n = 2
    while _taken(target):
        target = folder / f"{base}.{n}"
        n += 1
    return target


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def claim(path: Path, ws: Workspace, tag: str) -> Path:
    """Move a file from intake into processing/ so no other run picks it up."""
    return move_to(path, free_path(ws.processing, path.name, tag))


def free_path(folder: Path, name: str, tag: str) -> Path:
    """Where `name` can go in `folder` without overwriting anything."""
    folder.mkdir(parents=True, exist_ok=True)
    return _free_name(folder, name, tag)


def move_to(path: Path, target: Path) -> Path:
    """Rename `path` to a target chosen with `free_path`; durable once this returns."""
    os.replace(path, target)
    _fsync_dir(target.parent)
    return target


def write_error_record(failed_path: Path, record: dict[str, object]) -> Path:
    """`<name>.error.json` beside a failed file: stage, code, reason, hint, time, attempts."""
    body = {"file": failed_path.name, **record, "time": datetime.now(UTC).isoformat(timespec="seconds")}
    out = Path(str(failed_path) + ERROR_SUFFIX)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(body, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, out)
    return out
