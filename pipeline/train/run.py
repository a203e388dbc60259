"""One training run: labelled examples in, a LoRA adapter (+ training.json) out.

    examples -> samples (read as the engine reads) -> split -> base model + LoRA -> Trainer
             -> after each epoch: validation extraction, best adapter kept -> training.json

Everything that can be wrong with the request, the model or the examples is found before training
starts (ConfigError). Training is transformers' `Trainer` on a PEFT LoRA (`lora.py`). Checkpoints go
to `OUT/checkpoints` (each epoch, and on Ctrl-C) and are removed once the run completes.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ledgerlens.pipeline.check.answers import PIPELINE_CHECKS
from ledgerlens.pipeline.config import Config
from ledgerlens.pipeline.doctypes.schemas import DocumentSchema
from ledgerlens.pipeline.engines.model.prompts import PromptVersion
from ledgerlens.pipeline.engines.transformers.adapters import ADAPTER_FILES, AdapterRules
from ledgerlens.pipeline.engines.transformers.engine import TransformersEngine, image_factor
from ledgerlens.pipeline.engines.transformers.loading import load, load_processor, pick_device
from ledgerlens.pipeline.engines.transformers.options import TransformersOptions
from ledgerlens.pipeline.engines.transformers.registry import ResolvedModel, require_weights
from ledgerlens.pipeline.errors import ConfigError
from ledgerlens.pipeline.train.callbacks import Progress, Say, StopOnCtrlC
from ledgerlens.pipeline.train.data import Collator, SampleDataset
from ledgerlens.pipeline.train.examples import find_examples
from ledgerlens.pipeline.train.lora import attach_lora, training_arguments, with_model
from ledgerlens.pipeline.train.record import base_model, device_record, schema_hashes, write_record
from ledgerlens.pipeline.train.request import MIN_EXAMPLES, TrainRequest
from ledgerlens.pipeline.train.samples import Reader, Sample, check_answers, read_samples
from ledgerlens.pipeline.train.selection import KeepBest, Validator

CHECKPOINTS = "checkpoints"
RUN = "run.json"  # in OUT/checkpoints: what a resumed run must match


@dataclass
class Prepared:
    """A run checked and read, before the model is loaded."""

    out: Path
    checkpoint: Path | None  # to resume from
    resolved: ResolvedModel
    options: TransformersOptions
    prompt: PromptVersion
    revision: str
    reader: Reader
    train_set: list[Sample]
    validation: list[Sample]
    notes: list[str] = field(default_factory=list)


@dataclass
class Outcome:
    out: Path
    record: dict[str, Any]
    complete: bool  # False: interrupted (Ctrl-C), a checkpoint to --resume from


def train(request: TrainRequest, config: Config, schemas: dict[str, DocumentSchema], say: Say = print) -> Outcome:
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="ledgerlens-train-") as work:
        run = prepare(request, config, schemas, Path(work))
        for note in run.notes:
            say(note)
        record, complete = fit(request, run, say)
    record["started_at"] = datetime.fromtimestamp(started, UTC).isoformat(timespec="seconds")
    record["seconds"] = round(time.time() - started, 1)
    write_record(run.out, record)
    if complete:
        shutil.rmtree(run.out / CHECKPOINTS, ignore_errors=True)
    return Outcome(run.out, record, complete)


def prepare(request: TrainRequest, config: Config, schemas: dict[str, DocumentSchema], work: Path) -> Prepared:
    """Every check that needs no model weights: the output folder, the model's files and options,
    the examples, the documents (read into `work`)."""
    out = request.out.expanduser().resolve()
    checkpoint = _check_out(out, request.resume)
    engine = dataclasses.replace(config.engine, name="transformers", adapter="", adapters={})
    resolved, options, prompt, _, revision = TransformersEngine.settings(dataclasses.replace(config, engine=engine))
    require_weights(resolved)
    options = dataclasses.replace(options, constrained=True)  # validation reads as the engine does
    if request.qlora and not pick_device(options.device).startswith("cuda"):
        raise ConfigError("--qlora loads the base model in 4 bits with bitsandbytes, which needs a CUDA GPU; "
                          "on CPU train without it (fp32)")  # fmt: skip
    examples, notes = find_examples(list(request.examples), schemas)
    if len(examples) < MIN_EXAMPLES and not request.force:
        raise ConfigError(
            f"only {len(examples)} example(s); an adapter needs at least {MIN_EXAMPLES} reviewed documents to be "
            "worth having. Review more documents, or pass --force to train on these (e.g. to try the set-up)"
        )
    processor = load_processor(resolved, options, resolved.trust_remote_code or options.trust_remote_code)
    factor = 0 if resolved.kind == "text" else image_factor(processor)
    reader = Reader(resolved, options, prompt, schemas, config.pipeline, factor, processor)
    samples, left_out = read_samples(examples, reader, work)
    train_set, validation = split(samples, request.validation_split, request.seed)
    if not train_set:
        raise ConfigError("no example is left to train on: " + "; ".join(left_out))
    run = Prepared(
        out, checkpoint, resolved, options, prompt, revision, reader, train_set, validation, notes + left_out
    )
    _check_resume(run, request)
    return run


def fit(request: TrainRequest, run: Prepared, say: Say) -> tuple[dict[str, Any], bool]:
    """Load the base model, attach the LoRA, check the answers against the engine, train; the
    training record and whether the run completed."""
    quantization = "4bit" if request.qlora else "none"  # CPU int8 is for reading; training is fp32
    loaded = load(run.resolved, dataclasses.replace(run.options, dtype="auto", quantization=quantization))
    model = attach_lora(loaded.model, request)
    engine = TransformersEngine(run.resolved, run.options, run.prompt, AdapterRules("", {}, {}), run.revision,
                                PIPELINE_CHECKS, loaded=with_model(loaded, model))  # fmt: skip
    samples = run.train_set + run.validation
    check_answers(samples, loaded.processor, engine.generator.grammar, engine.generator.eos_ids,
                  run.options.max_new_tokens)  # fmt: skip
    (run.out / CHECKPOINTS).mkdir(parents=True, exist_ok=True)
    (run.out / CHECKPOINTS / RUN).write_text(json.dumps(_identity(request, run), indent=1) + "\n", encoding="utf-8")
    keep = _selection(run, engine, model, say)
    trained = _trainer_run(request, run, model, loaded, keep, say)
    if keep is None:
        model.save_pretrained(run.out)  # no validation set: the adapter as trained
    record = {
        "complete": not trained["interrupted"],
        "base_model": base_model(run.resolved, run.revision),
        "prompt_version": run.prompt.version,
        "schemas": schema_hashes(list({s.schema.doc_type: s.schema for s in samples}.values())),
        "engine_options": {k: getattr(run.options, k) for k in ("min_pixels", "max_pixels", "max_new_tokens")},
        "examples": {"train": [s.example.describe() for s in run.train_set],
                     "validation": [s.example.describe() for s in run.validation], "left_out": run.notes},
        "hyperparameters": request.hyperparameters(),
        "validation": keep.state() if keep else None,
        "loss": trained["loss"],
        "steps": trained["steps"],
        "train_seconds": trained["train_seconds"],  # this run's Trainer time (a resumed run: its own part)
        "device": device_record(loaded.device, loaded.dtype, quantization),
    }  # fmt: skip
    return record, record["complete"]


def split(samples: list[Sample], fraction: float, seed: int) -> tuple[list[Sample], list[Sample]]:
    """Validation: a seeded random `fraction` of the samples (none when that rounds to zero)."""
    chosen = set(random.Random(seed).sample(range(len(samples)), int(len(samples) * fraction)))
    return [s for i, s in enumerate(samples) if i not in chosen], [s for i, s in enumerate(samples) if i in chosen]


def _check_out(out: Path, resume: bool) -> Path | None:
    """The checkpoint to resume from (None: a fresh run). A fresh run never overwrites an adapter."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file, not a folder")
    if not resume:
        if any((out / name).exists() for name in ADAPTER_FILES) or any((out / CHECKPOINTS).glob("checkpoint-*")):
            raise ConfigError(f"{out} already holds an adapter or checkpoints: choose another --out, "
                              "or --resume an interrupted run")  # fmt: skip
        return None
    found = sorted((out / CHECKPOINTS).glob("checkpoint-*"), key=lambda p: int(p.name.rpartition("-")[2]))
    if not found:
        raise ConfigError(f"--resume: no checkpoint in {out / CHECKPOINTS} (nothing to resume)")
    return found[-1]


def _identity(request: TrainRequest, run: Prepared) -> dict[str, Any]:
    """What a resumed run must share with the run it resumes."""
    return {
        "model": str(run.resolved.path),
        "revision": run.revision,
        "prompt_version": run.prompt.version,
        "pixels": [run.options.min_pixels, run.options.max_pixels],
        "hyperparameters": request.hyperparameters(),
        "train": [s.example.sha256 for s in run.train_set],
        "validation": [s.example.sha256 for s in run.validation],
    }


def _check_resume(run: Prepared, request: TrainRequest) -> None:
    if run.checkpoint is None:
        return
    path = run.out / CHECKPOINTS / RUN
    try:
        before = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ConfigError(f"--resume: {path} is unreadable ({e})") from e
    now = _identity(request, run)
    changed = sorted(k for k in now if before.get(k) != now[k])
    if changed:
        raise ConfigError(f"--resume: the run in {run.out} was started with other {', '.join(changed)}; resume it "
                          "with the same model, examples and options, or train into a new --out")  # fmt: skip


def _selection(run: Prepared, engine: Any, model: Any, say: Say) -> KeepBest | None:
    if not run.validation:
        say("no validation documents (too few examples for --validation-split): the last epoch's adapter is kept")
        return None
    keep = KeepBest(Validator(run.validation, engine), run.out, say)
    if run.checkpoint is not None:
        keep.restore(run.checkpoint)
        return keep
    say(f"reading the {len(run.validation)} validation document(s) with the base model ...")
    keep.before = keep.validator.score(model)
    say(f"before training: {100 * keep.before['micro']:.1f}% of fields, "
        f"{keep.before['documents_exact']}/{len(run.validation)} documents exact")  # fmt: skip
    return keep


def _trainer_run(request: TrainRequest, run: Prepared, model: Any, loaded: Any, keep: KeepBest | None,
                 say: Say) -> dict[str, Any]:  # fmt: skip
    from transformers import Trainer
    from transformers.trainer_callback import PrinterCallback

    total = request.steps or request.epochs * math.ceil(len(run.train_set) / request.grad_accum)
    say(f"training on {len(run.train_set)} document(s): {total} step(s) of {request.grad_accum} document(s), "
        f"{loaded.device} {loaded.dtype}")  # fmt: skip
    stop = StopOnCtrlC(say)
    if keep is not None:
        keep.stop = stop
    # Duck-typed Trainer callbacks (callbacks.py: the Trainer calls events by name), so typed as Any.
    callbacks: list[Any] = [Progress(say), *([keep] if keep else []), stop]
    trainer = Trainer(
        model=model,
        args=training_arguments(request, loaded, total, run.out / CHECKPOINTS),
        train_dataset=SampleDataset(run.train_set, run.reader, loaded.processor),
        data_collator=Collator(int(loaded.tokenizer.pad_token_id or 0)),
        callbacks=callbacks,
    )
    trainer.remove_callback(PrinterCallback)  # its raw log dicts: Progress prints loss and ETA instead
    with stop.installed():
        output = trainer.train(resume_from_checkpoint=str(run.checkpoint) if run.checkpoint else None)
    losses = [(log["step"], log["loss"]) for log in trainer.state.log_history if "loss" in log]
    return {
        "interrupted": stop.requested,
        "steps": trainer.state.global_step,
        "train_seconds": round(output.metrics.get("train_runtime", 0.0), 2),
        "loss": {"first": losses[0][1] if losses else None, "last": losses[-1][1] if losses else None,
                 "history": [{"step": s, "loss": round(v, 5)} for s, v in losses]},
    }  # fmt: skip
