"""Model selection by extraction accuracy: after each epoch the validation documents are read by the
model being trained, through the engine (constrained decoding, the pipeline's answer checks and
re-asks), the answers go through the parse stage and are scored by `eval`'s scorer; the best
adapter so far is written to the output folder (on a tie, the later epoch: it has trained longer).

The selection so far is saved with each checkpoint, so a resumed run knows its best epoch.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from ledgerlens.pipeline.check.parse import parse_output
from ledgerlens.pipeline.measure.scoring import score_document
from ledgerlens.pipeline.train.callbacks import Hooks, Say, StopOnCtrlC
from ledgerlens.pipeline.train.samples import Sample

SELECTION = "selection.json"  # in each checkpoint folder


class Validator:
    """Scores the validation samples with an engine reading through the model being trained."""

    def __init__(self, samples: list[Sample], engine: Any) -> None:
        self.samples = samples
        self.engine = engine

    def score(self, model: Any) -> dict[str, Any]:
        was_training = model.training
        model.eval()
        started = time.perf_counter()
        try:
            hits = total = exact = 0
            fields: dict[str, list[int]] = {}
            for sample in self.samples:
                out = self.engine.extract(sample.pages, sample.example.doc_type, sample.schema)
                data, _ = parse_output(out.data, sample.schema, out.field_evidence)
                scores = score_document(sample.example.fields, data)
                for s in scores:
                    cell = fields.setdefault(s.field, [0, 0])
                    cell[0] += s.hits
                    cell[1] += s.total
                hits += sum(s.hits for s in scores)
                total += sum(s.total for s in scores)
                exact += all(s.exact for s in scores)
        finally:
            model.train(was_training)
        return {
            "micro": round(hits / total, 4) if total else 0.0,
            "documents_exact": exact,
            "documents": len(self.samples),
            "fields": {k: {"hits": h, "total": t} for k, (h, t) in sorted(fields.items())},
            "seconds": round(time.perf_counter() - started, 2),
        }


class KeepBest(Hooks):
    def __init__(self, validator: Validator, out: Path, say: Say, before: dict[str, Any] | None = None) -> None:
        self.validator = validator
        self.out = out
        self.say = say
        self.before = before
        self.epochs: list[dict[str, Any]] = []
        self.best: dict[str, Any] | None = None
        self.stop: StopOnCtrlC | None = None  # set by the run: an epoch cut short by Ctrl-C is not scored

    def restore(self, checkpoint: Path) -> None:
        saved = json.loads((checkpoint / SELECTION).read_text(encoding="utf-8"))
        self.before, self.epochs, self.best = saved["before"], saved["epochs"], saved["best"]

    def state(self) -> dict[str, Any]:
        return {"before": self.before, "epochs": self.epochs, "best": self.best}

    def on_epoch_end(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        if self.stop is not None and self.stop.requested and not float(state.epoch or 0).is_integer():
            return  # stopped mid-epoch: the resumed run scores this epoch once it is whole
        score = self.validator.score(model)
        entry = {"epoch": round(state.epoch or 0, 2), "step": state.global_step, **score}
        self.epochs.append(entry)
        better = self.best is None or score["micro"] >= self.best["micro"]
        if better:
            model.save_pretrained(self.out)
            self.best = entry
        self.say(
            f"epoch {entry['epoch']:g}: validation {100 * score['micro']:.1f}% of fields, "
            f"{score['documents_exact']}/{score['documents']} documents exact ({score['seconds']:.0f} s)"
            + ("  best so far: adapter saved" if better else "")
        )

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        checkpoint = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if checkpoint.is_dir():
            (checkpoint / SELECTION).write_text(json.dumps(self.state(), indent=1) + "\n", encoding="utf-8")
