"""Workspace folders and the life of a file in them.

    intake/ -> processing/ -> done/   (ok, needs_review)
                           -> failed/ (+ <name>.error.json: stage, code, reason, hint, time)

Moves are renames inside one workspace (atomic on one file system). A name already taken in
the destination gets the document's short hash appended, so nothing is ever overwritten.
"""

from __future__ import annotations

import fcntl
import glob
import json
import os
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ledgerlens.pipeline.check.einvoice.view import VIEW_SUFFIX
from ledgerlens.pipeline.config import CONFIG_NAME, DEFAULT_TOML, Config, load_config
from ledgerlens.pipeline.errors import ConfigError

FOLDERS = ("intake", "processing", "done", "failed", "exports")
ERROR_SUFFIX = ".error.json"
DUPLICATE_SUFFIX = ".duplicate.json"
NOTE_SUFFIXES = (ERROR_SUFFIX, DUPLICATE_SUFFIX)
# Names of files still being written: browsers, WinSCP, rsync/curl, editors, Office lock files.
PARTIAL_SUFFIXES = (".part", ".partial", ".crdownload", ".download", ".filepart", ".tmp", ".swp")


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
    return name.startswith((".", "~$")) or name.lower().endswith(PARTIAL_SUFFIXES + NOTE_SUFFIXES)


def list_inputs(folder: Path) -> list[Path]:
    """Files to process under `folder`, recursively, in a stable order; never follows symlinks."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not is_ignored_name(d))
        found.extend(Path(dirpath) / f for f in sorted(filenames) if not is_ignored_name(f))
    return found


def _taken(target: Path) -> bool:
    # A file's note counts too: a new file must not inherit (and overwrite) an old note. lexists:
    # a dangling symlink set aside in failed/ still holds its name. So do an e-invoice's page and
    # attachments: an XML taking this name would write them.
    if any(os.path.lexists(f"{target}{suffix}") for suffix in ("", *NOTE_SUFFIXES, VIEW_SUFFIX)):
        return True
    return bool(glob.glob(f"{glob.escape(str(target))}.attachment-*.pdf"))


def _free_name(folder: Path, name: str, tag: str, reserved: Collection[Path]) -> Path:
    target = folder / name
    if not _taken(target) and target not in reserved:
        return target
    stem, dot, ext = name.rpartition(".")
    base = f"{stem}.{tag}.{ext}" if dot and stem else f"{name}.{tag}"
    target = folder / base
    n = 2
    while _taken(target) or target in reserved:
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


def name_prefix(folder: Path, name: str) -> Path:
    """What every name `free_path` may choose for `name` in `folder` starts with."""
    stem, dot, _ = name.rpartition(".")
    return folder / (stem if dot and stem else name)


def free_path(folder: Path, name: str, tag: str, reserved: Collection[Path] = ()) -> Path:
    """Where `name` can go in `folder` without overwriting anything (nor taking a `reserved` path)."""
    folder.mkdir(parents=True, exist_ok=True)
    return _free_name(folder, name, tag, reserved)


def move_to(path: Path, target: Path) -> Path:
    """Rename `path` to a target chosen with `free_path`; durable once this returns."""
    os.replace(path, target)
    _fsync_dir(target.parent)
    return target


def write_error_record(failed_path: Path, record: dict[str, object]) -> Path:
    """`<name>.error.json` beside a failed file: stage, code, reason, hint, time, attempts."""
    return write_note(failed_path, ERROR_SUFFIX, record)


def write_bytes(out: Path, data: bytes) -> Path:
    """A file written whole or not at all (a temporary name, then a rename)."""
    tmp = out.with_name(out.name + ".tmp")
    with tmp.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, out)
    return out


def write_note(path: Path, suffix: str, record: dict[str, object]) -> Path:
    """A JSON note beside a file (`<name><suffix>`), written whole or not at all."""
    body = {"file": path.name, **record, "time": datetime.now(UTC).isoformat(timespec="seconds")}
    out = Path(str(path) + suffix)
    tmp = out.with_name(out.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        f.write(json.dumps(body, indent=2, ensure_ascii=False) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, out)
    return out


@contextmanager
def workspace_lock(ws: Workspace, name: str, *, wait: bool = True) -> Iterator[bool]:
    """An exclusive lock on `<root>/.<name>.lock`; yields False when `wait` is off and it is held.

    flock, so the kernel releases it when its holder dies: a kill -9 never leaves a stale lock.
    The file keeps the holder's pid for messages.
    """
    fd = os.open(ws.root / f".{name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield True
    finally:
        os.close(fd)


def lock_holder(ws: Workspace, name: str) -> str:
    """The pid written by whoever holds (or last held) a workspace lock, or "?"."""
    try:
        return (ws.root / f".{name}.lock").read_text(encoding="ascii").strip() or "?"
    except OSError:
        return "?"
