"""`ledgerlens` command line. Sub-commands live in `ledgerlens/commands/`, one module each.

The environment is read here and only here. Prefect is told, before it is imported, to send
nothing anywhere (no analytics) and to keep its console logs quiet unless --verbose.
"""

from __future__ import annotations

import argparse
import os
import sys

from ledgerlens import __version__
from ledgerlens.commands import register_all


def _prefect_env(verbose: bool) -> None:
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    # Runs log at INFO to the Prefect API (the UI shows them); the terminal shows our own table,
    # and Prefect's console output only with --verbose.
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO")
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "INFO" if verbose else "CRITICAL")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # weights are never fetched at run time


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ledgerlens", description="Local, private extraction of invoices, receipts and statements."
    )
    p.add_argument("--version", action="version", version=f"ledgerlens {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="show Prefect's logs")
    register_all(p.add_subparsers(dest="command", required=True))
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _prefect_env(args.verbose)
    from ledgerlens.pipeline.errors import ConfigError

    try:
        return int(args.func(args))
    except ConfigError as e:
        print(f"ledgerlens: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "ledgerlens: interrupted; files being processed stay in processing/ and are picked up again",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
