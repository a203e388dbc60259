"""What a training run is asked to do (`ledgerlens train`'s options), checked before anything runs."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledgerlens.pipeline.errors import ConfigError

MIN_EXAMPLES = 10  # fewer only with force: an adapter from a handful of documents learns them by heart
# Linear layers of the language model LoRA adapts by default (Qwen-VL names): attention and MLP.
LM_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
# ... and of the vision tower with train_vision (Qwen2-VL: qkv, proj, fc1, fc2; Qwen2.5-VL: its MLP).
VISION_TARGETS = ("qkv", "proj", "fc1", "fc2", "gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class TrainRequest:
    examples: tuple[Path, ...]
    out: Path
    epochs: int = 3
    steps: int = 0  # > 0: this many optimizer steps instead of epochs
    lr: float = 2e-4
    rank: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: tuple[str, ...] = LM_TARGETS
    train_vision: bool = False
    qlora: bool = False
    validation_split: float = 0.2
    seed: int = 0
    grad_accum: int = 4
    resume: bool = False
    force: bool = False  # train on fewer than MIN_EXAMPLES

    def __post_init__(self) -> None:
        if not self.examples:
            raise ConfigError("name at least one folder of examples")
        if self.epochs < 1 or self.steps < 0 or self.grad_accum < 1:
            raise ConfigError("--epochs and --grad-accum must be at least 1, --steps not negative")
        if not 0 < self.lr < 1 or self.rank < 1 or self.alpha < 1 or not 0 <= self.dropout < 1:
            raise ConfigError("--lr must be in (0, 1), --rank and --alpha at least 1, dropout in [0, 1)")
        if not 0 <= self.validation_split < 1:
            raise ConfigError("--validation-split must be in [0, 1)")
        if not self.target_modules or not all(m.isidentifier() for m in self.target_modules):
            raise ConfigError("--target-modules: module names such as q_proj,v_proj")

    def hyperparameters(self) -> dict[str, Any]:
        fields = dataclasses.asdict(self)
        for key in ("examples", "out", "resume", "force"):
            fields.pop(key)
        fields["target_modules"] = list(self.target_modules)
        return fields
