"""`ledgerlens models list|pull`: the model registry (vision and text models), and fetching a model."""

from __future__ import annotations

import argparse
import os
from typing import Any

from .common import console


def cmd_list(args: argparse.Namespace) -> int:
    from rich.table import Table

    from ledgerlens.pipeline.engines.transformers.registry import load_registry

    registry = load_registry()
    table = Table(title="Models (kind: vision reads page images, text reads the pages' words; VRAM: estimate)")
    for col in ("id", "hub id", "kind", "family", "params", "license", "fp16 GB", "int8 GB", "int4 GB", "prompt"):
        table.add_column(col, justify="right" if "GB" in col or col == "params" else "left")
    for entry in registry.models.values():
        vram = registry.vram_gb(entry)
        table.add_row(
            entry.id,
            entry.hub_id,
            entry.kind,
            entry.family,
            f"{entry.params_b:.2f} B",
            entry.license,
            f"{vram['fp16']:.1f}",
            f"{vram['int8']:.1f}",
            f"{vram['int4']:.1f}",
            entry.prompt,
        )
    con = console()
    con.print(table)
    con.print("A local folder holding a model also works: --model /path/to/folder")
    return 0


def cmd_pull(args: argparse.Namespace) -> int:
    # The CLI keeps the hub offline by default (weights are never fetched while processing);
    # pulling is the one explicit fetch. huggingface_hub reads this when it is first imported.
    os.environ["HF_HUB_OFFLINE"] = "0"
    from ledgerlens.pipeline.engines.transformers.registry import pull

    path = pull(args.model, args.revision or "")
    console().print(f"{args.model}: {path}")
    return 0


def register(sub: Any) -> None:
    s = sub.add_parser("models", help="models (vision and text): list the registry, pull one into the HF cache")
    actions = s.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="registry ids, hub ids, parameters, license, VRAM per precision")
    listing.set_defaults(func=cmd_list)
    fetch = actions.add_parser("pull", help="download a model into the Hugging Face cache (needs internet)")
    fetch.add_argument("model", help="registry id (see `models list`) or hub id (org/name)")
    fetch.add_argument("--revision", help="branch, tag or commit")
    fetch.set_defaults(func=cmd_pull)
