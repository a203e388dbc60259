"""`ledgerlens train EXAMPLES... --model MODEL --out ADAPTER_DIR`: a LoRA adapter from reviewed documents."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .common import console, with_engine_args


def _config(args: argparse.Namespace) -> tuple[Any, Any]:
    """The configuration to train with (the engine options the adapter will be read with: page size,
    prompt version), and the workspace when there is one."""
    from ledgerlens.pipeline.config import load_config
    from ledgerlens.pipeline.errors import ConfigError
    from ledgerlens.pipeline.intake.workspace import find_workspace

    ws = None
    try:
        ws = find_workspace(Path(args.workspace) if args.workspace else Path.cwd())
    except ConfigError:
        if args.workspace or args.register:
            raise
    path = Path(args.config) if args.config else (ws.config_path if ws else None)
    return with_engine_args(load_config(path), args), ws


def cmd_train(args: argparse.Namespace) -> int:
    from ledgerlens.pipeline.doctypes.schemas import load_schemas
    from ledgerlens.pipeline.train.record import check_register_key, register_adapter
    from ledgerlens.pipeline.train.request import TrainRequest
    from ledgerlens.pipeline.train.run import train

    config, ws = _config(args)
    request = TrainRequest(
        examples=tuple(Path(e) for e in args.examples),
        out=Path(args.out),
        epochs=args.epochs,
        steps=args.steps,
        lr=args.lr,
        rank=args.rank,
        alpha=args.alpha,
        dropout=args.dropout,
        target_modules=tuple(m.strip() for m in args.target_modules.split(",") if m.strip()),
        train_vision=args.train_vision,
        qlora=args.qlora,
        validation_split=args.validation_split,
        seed=args.seed,
        grad_accum=args.grad_accum,
        resume=args.resume,
        force=args.force,
    )
    schemas = load_schemas(ws.schemas_dir if ws else None)
    if args.register:
        check_register_key(args.register, sorted(schemas))  # before training, not after
    con = console()
    outcome = train(request, config, schemas, say=con.print)
    if not outcome.complete:
        con.print(f"Interrupted: checkpoint in {outcome.out / 'checkpoints'}; go on with the same command and --resume")
        return 130
    _summary(con, outcome)
    if args.register:
        register_adapter(ws.config_path, args.register, outcome.out, sorted(schemas))
        con.print(f"Registered in {ws.config_path}: [engine.adapters] {args.register!r} = {str(outcome.out)!r}")
    return 0


def _summary(con: Any, outcome: Any) -> None:
    record = outcome.record
    loss = record["loss"]
    con.print(f"Adapter written to {outcome.out} (adapter_model.safetensors, adapter_config.json, training.json)")
    if loss["first"] is not None:
        con.print(f"Training loss {loss['first']:.4f} -> {loss['last']:.4f} over {record['steps']} steps, "
                  f"{record['seconds']:.0f} s on {record['device']['device']}")  # fmt: skip
    validation = record["validation"]
    if validation and validation["best"]:
        before, best = validation["before"], validation["best"]
        con.print(f"Validation: {100 * before['micro']:.1f}% of fields before, {100 * best['micro']:.1f}% with the "
                  f"adapter kept (epoch {best['epoch']:g})")  # fmt: skip
        if best["micro"] <= before["micro"]:
            con.print("[yellow]The adapter reads the validation documents no better than the base model.[/yellow]")


def register(sub: Any) -> None:
    from ledgerlens.pipeline.train.request import LM_TARGETS, MIN_EXAMPLES

    s = sub.add_parser("train", help="fine-tune a LoRA adapter on reviewed examples (the vlm extra)")
    s.add_argument("examples", nargs="+", help="folders of <file> + <file>.json examples, or bench-gt/1 folders")
    s.add_argument("--model", required=True, help="the base model: registry id, hub id or local folder")
    s.add_argument("--out", required=True, help="the adapter folder to write")
    s.add_argument("--epochs", type=int, default=3)
    s.add_argument("--steps", type=int, default=0, help="optimizer steps instead of epochs")
    s.add_argument("--lr", type=float, default=2e-4, help="learning rate")
    s.add_argument("--rank", type=int, default=16, help="LoRA rank")
    s.add_argument("--alpha", type=int, default=32, help="LoRA alpha")
    s.add_argument("--dropout", type=float, default=0.05, help="LoRA dropout")
    s.add_argument("--target-modules", default=",".join(LM_TARGETS), help="language-model layers LoRA adapts")
    s.add_argument("--train-vision", action="store_true", help="adapt the vision tower too (frozen by default)")
    s.add_argument("--qlora", action="store_true", help="4-bit base model via bitsandbytes (CUDA)")
    s.add_argument("--grad-accum", type=int, default=4, help="documents per optimizer step")
    s.add_argument("--validation-split", type=float, default=0.2, help="share of examples kept to pick the epoch")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--resume", action="store_true", help="go on from the last checkpoint in --out")
    s.add_argument("--force", action="store_true", help=f"train on fewer than {MIN_EXAMPLES} examples")
    s.add_argument("--register", metavar="KEY", help='use it in the workspace: a document type, or vendor:"NAME"')
    s.add_argument("--workspace", help="the workspace (default: the one holding the current folder)")
    s.add_argument("--config", help="a ledgerlens.toml to take engine options (page size, prompt) from")
    s.set_defaults(func=cmd_train)
