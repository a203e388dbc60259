"""The two error channels.

`ConfigError` is a mistake of whoever configured or called us: raised early, stops the command.
`DocumentError` is a problem with one document: a stage raises it, the runner turns it into a
failed `DocumentResult` with an issue and an `<name>.error.json`, and the run goes on.
"""

from __future__ import annotations

import functools


class LedgerlensError(Exception):
    """Base of every error ledgerlens raises on purpose."""


class ConfigError(LedgerlensError):
    """Bad configuration or a bad call: unknown engine, unknown key, missing model, bad path."""


class DocumentError(LedgerlensError):
    """One document cannot be processed; carries what a person needs to fix it."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        stage: str,
        hint: str = "",
        page: int | None = None,
        transient: bool = False,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.stage = stage
        self.hint = hint
        self.page = page
        # Transient failures (a model server timeout, out of memory) may succeed on a retry;
        # deterministic ones (a corrupt file) never will.
        self.transient = transient

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only arguments are not in self.args: without this, unpickling (process pools,
        # Prefect task results) fails with "missing 1 required positional argument".
        rebuild = functools.partial(
            type(self), stage=self.stage, hint=self.hint, page=self.page, transient=self.transient
        )
        return (rebuild, (self.code, self.message))
