"""`ledgerlens doctor`: GPUs and free VRAM, physical cores, RAM -> which model and quantization fit."""

from __future__ import annotations

import argparse
from typing import Any

from .common import console


def cmd_doctor(args: argparse.Namespace) -> int:
    from rich.table import Table

    from ledgerlens.pipeline.engines.transformers.doctor import probe, recommend
    from ledgerlens.pipeline.engines.transformers.registry import load_registry

    con = console()
    machine = probe()
    registry = load_registry()
    if machine.gpus:
        for gpu in machine.gpus:
            con.print(f"GPU cuda:{gpu.index}: {gpu.name}, {gpu.free_gb} GB free of {gpu.total_gb} GB")
    else:
        con.print("GPU: none (no CUDA device)")
    con.print(
        f"CPU: {machine.physical_cores} physical cores ({machine.logical_cores} logical); "
        f"RAM: {machine.ram_available_gb} GB available of {machine.ram_total_gb} GB; "
        f"torch: {machine.torch or 'not installed'}"
    )
    for note in machine.notes:
        con.print(f"note: {note}")
    budget = max((g.free_gb for g in machine.gpus), default=0.0) * 0.9
    table = Table(title="Registry (VRAM estimates in GB; * fits the GPU's free memory)")
    for col in ("id", "kind", "params", "fp16", "int8", "int4", "license"):
        table.add_column(col)
    for entry in registry.models.values():
        vram = registry.vram_gb(entry)
        cells = [f"{vram[p]:.1f}{' *' if machine.gpus and vram[p] <= budget else ''}" for p in ("fp16", "int8", "int4")]
        table.add_row(entry.id, entry.kind, f"{entry.params_b:.2f} B", *cells, entry.license)
    con.print(table)
    rec = recommend(machine, registry, args.kind)
    con.print(
        f"[bold]Recommended:[/bold] engine {rec.engine}"
        + (f", model {rec.model}, quant {rec.quant}" if rec.model else "")
    )
    con.print(f"  why: {rec.reason}")
    if rec.options:
        con.print("  \\[engine.options] " + ", ".join(f"{k} = {v!r}" for k, v in rec.options.items()))
    con.print(f"  run: {rec.command()}")
    return 0


def register(sub: Any) -> None:
    s = sub.add_parser("doctor", help="what this machine can run: GPU/VRAM, cores, RAM -> recommended model")
    s.add_argument(
        "--kind",
        choices=("vision", "text"),
        default="vision",
        help="recommend a vision model (reads page images; the default) or a text model (reads the pages' words)",
    )
    s.set_defaults(func=cmd_doctor)
