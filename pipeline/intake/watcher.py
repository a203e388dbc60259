"""What waits in intake/: a polling scan and a stability check.

Polling, not inotify: it sees files written over SMB/NFS shares, where inotify is silent. The scan
never follows a link and never opens a file: it only reads directory entries and `lstat`s, so a
symlink, FIFO or device node dropped into intake/ is reported as such and nothing outside the
workspace is ever read. A file is handed on only once its size, mtime and inode have stayed the
same for `stable_s` seconds: a scanner or a copy still writing it is left alone.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ledgerlens.pipeline.doctypes.schemas import DocumentSchema
from ledgerlens.pipeline.intake.workspace import is_ignored_name

FILE = "file"


@dataclass(frozen=True)
class Entry:
    path: Path
    rel: str  # relative to intake/, with "/" separators
    kind: str  # "file", or what it is instead: "symlink", "fifo", "socket", "device", "other"
    size: int = 0
    mtime_ns: int = 0
    ino: int = 0

    @property
    def folder(self) -> str:
        """The sub-folder of intake/ it was dropped in ("" at the top)."""
        return self.rel.rpartition("/")[0]

    @property
    def signature(self) -> tuple[int, int, int]:
        return (self.size, self.mtime_ns, self.ino)


def _kind(mode: int) -> str:
    if stat.S_ISREG(mode):
        return FILE
    if stat.S_ISLNK(mode):
        return "symlink"
    if stat.S_ISFIFO(mode):
        return "fifo"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    return "other"


def entry_for(path: Path, intake: Path) -> Entry:
    """The entry of one given path (not followed if it is a link); `rel` is relative to intake/."""
    path = Path(os.path.abspath(path))  # not resolve(): that would follow a link
    st = path.lstat()
    try:
        rel = path.relative_to(intake).as_posix()
    except ValueError:
        rel = path.name
    return Entry(path, rel, _kind(st.st_mode), st.st_size, st.st_mtime_ns, st.st_ino)


def scan(intake: Path) -> list[Entry]:
    """Every entry under intake/ that could be a document, in a stable order; links are not followed."""
    found: list[Entry] = []
    _scan_into(intake, "", found)
    return found


def _scan_into(folder: Path, prefix: str, found: list[Entry]) -> None:
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError):
        return  # removed while we looked: seen again, or not, on the next scan
    for e in entries:
        if is_ignored_name(e.name):
            continue
        rel = f"{prefix}{e.name}"
        try:
            st = e.stat(follow_symlinks=False)
        except FileNotFoundError:
            continue
        if stat.S_ISDIR(st.st_mode):
            _scan_into(Path(e.path), rel + "/", found)
            continue
        found.append(Entry(Path(e.path), rel, _kind(st.st_mode), st.st_size, st.st_mtime_ns, st.st_ino))


@dataclass
class Stability:
    """Remembers what each scan saw; a file is stable once unchanged for `stable_s` seconds."""

    stable_s: float
    clock: Callable[[], float] = time.monotonic
    _seen: dict[str, tuple[tuple[int, int, int], float]] = field(default_factory=dict)

    def stable(self, entries: Iterable[Entry]) -> list[Entry]:
        now = self.clock()
        seen: dict[str, tuple[tuple[int, int, int], float]] = {}
        ready: list[Entry] = []
        for e in entries:
            before = self._seen.get(e.rel)
            since = before[1] if before is not None and before[0] == e.signature else now
            seen[e.rel] = (e.signature, since)
            if now - since >= self.stable_s and before is not None:
                ready.append(e)
        self._seen = seen  # forgets what is gone
        return ready

    def forget(self, entry: Entry) -> None:
        self._seen.pop(entry.rel, None)


def folder_hints(folder: str, schemas: Mapping[str, DocumentSchema]) -> tuple[str | None, list[str]]:
    """(document type, tags) from the sub-folders a file was dropped in.

    The first folder whose name is one a type's card gives (`folders`; the type's name, singular or
    plural, any case, `-` or ` ` for `_`, always counts) chooses the type; every other folder name
    is a tag: intake/invoices/acme/2025/x.pdf is an invoice tagged "acme" and "2025".
    """
    names = {name: doc_type for doc_type, schema in schemas.items() for name in schema.card.folder_names()}
    doc_type: str | None = None
    tags: list[str] = []
    for part in (p for p in folder.split("/") if p):
        match = names.get(part.lower().replace("-", "_").replace(" ", "_"))
        if match and doc_type is None:
            doc_type = match
        else:
            tags.append(part)
    return doc_type, tags
