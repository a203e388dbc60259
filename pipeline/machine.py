"""Facts about this machine, decided once per process: cores, memory, GPUs, host name.

Every other module asks here (worker counts, torch threads, `doctor`, the GPU gate), so that the
same question never gets two answers. Only the standard library: importing this costs nothing.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from functools import cache
from pathlib import Path

GIB = 1024**3
NVIDIA_GPUS = Path("/proc/driver/nvidia/gpus")


@cache
def physical_cores() -> int:
    """Cores, not hyper-threads: Tesseract and torch gain nothing from a sibling thread.

    Counted from the (physical id, core id) pairs of /proc/cpuinfo, inside the CPUs this process
    may run on; `os.cpu_count()` where that file says nothing."""
    allowed = _allowed_cpus()
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace")
    except OSError:
        return allowed
    cores = set()
    for chunk in text.split("\n\n"):
        block = dict((k.strip(), v.strip()) for k, _, v in (ln.partition(":") for ln in chunk.splitlines()) if k)
        if "core id" in block:
            cores.add((block.get("physical id", "0"), block["core id"]))
    return max(1, min(len(cores), allowed)) if cores else allowed


def logical_cores() -> int:
    return _allowed_cpus()


def _allowed_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


@dataclass(frozen=True)
class Memory:
    total_gb: float
    available_gb: float


def memory() -> Memory:
    """RAM in GiB from /proc/meminfo (0.0 where it cannot be read). Not cached: available memory moves."""
    values: dict[str, float] = {}
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            key, _, rest = line.partition(":")
            values[key] = float(rest.split()[0]) * 1024 / GIB
    except (OSError, ValueError, IndexError):
        pass
    total = values.get("MemTotal", 0.0)
    return Memory(round(total, 1), round(values.get("MemAvailable", total), 1))


@cache
def has_nvidia_gpu() -> bool:
    """An NVIDIA driver with at least one GPU, seen without importing torch."""
    return NVIDIA_GPUS.is_dir() and any(NVIDIA_GPUS.iterdir())


@cache
def hostname() -> str:
    return socket.gethostname()
