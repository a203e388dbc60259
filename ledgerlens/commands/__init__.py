"""The `ledgerlens` sub-commands, one module each; every module has `register(subparsers)`.

A new command is a new module here plus its name in COMMANDS: nothing else changes.
"""

from __future__ import annotations

import importlib
from typing import Any

COMMANDS = (
    "workspace",
    "process",
    "watch",
    "status",
    "retry",
    "export",
    "review",
    "reconcile",
    "vendors",
    "show",
    "evaluate",
    "record",
    "bench",
    "train",
    "models",
    "doctor",
)


def register_all(sub: Any) -> None:
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(sub)
