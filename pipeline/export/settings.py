"""Reading accounts.toml's tables: the checks every section shares (a table, no unknown key, a
non-empty text or number). Unknown keys are errors, as in ledgerlens.toml."""

from __future__ import annotations

from typing import Any

from ledgerlens.pipeline.errors import ConfigError


def check_keys(where: str, table: Any, allowed: set[str]) -> dict[str, Any]:
    """`table` itself when it is a table whose keys are all `allowed`; else a ConfigError naming `where`."""
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table")
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(allowed))})")
    return table


def setting_text(where: str, value: Any) -> str:
    """An account, code or name: a non-empty text, or a whole number written without quotes."""
    if not isinstance(value, str | int) or isinstance(value, bool) or str(value).strip() == "":
        raise ConfigError(f"{where} must be a non-empty text or number, got {value!r}")
    return str(value).strip()
