"""The trainable part: a PEFT LoRA on the language model's linear layers, and the Trainer's settings.

The vision tower is left out of the LoRA (frozen) unless `train_vision`. QLoRA prepares the 4-bit
base for training (PEFT's `prepare_model_for_kbit_training`). Trainer settings: gradient
(activation) checkpointing, non-reentrant (works with a frozen base), gradient accumulation, fp32 on CPU and
bf16 (or fp16) autocast on CUDA, a checkpoint each epoch, and `report_to="none"`: no tracker,
nothing leaves the machine.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

from ledgerlens.pipeline.engines.transformers.adapters import AdapterSet
from ledgerlens.pipeline.engines.transformers.loading import LoadedModel
from ledgerlens.pipeline.errors import ConfigError
from ledgerlens.pipeline.train.request import VISION_TARGETS, TrainRequest

VISION_TOWERS = r"(?:visual|vision_tower|vision_model|vision_embed_tokens)"


def target_pattern(request: TrainRequest) -> str:
    """The modules LoRA adapts, as the regular expression PEFT matches whole module names with."""
    language = rf"(?!(?:.*\.)?{VISION_TOWERS}\.).*\.(?:{'|'.join(map(re.escape, request.target_modules))})"
    if not request.train_vision:
        return language
    # the tower's blocks only: not its patch embedding (a convolution) nor the merger into the LM
    vision = rf"(?:.*\.)?{VISION_TOWERS}\.(?:.*\.)?(?:blocks|layers)\.\d+\..*\.(?:{'|'.join(VISION_TARGETS)})"
    return f"(?:{language})|(?:{vision})"


def attach_lora(model: Any, request: TrainRequest) -> Any:
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
    from transformers import set_seed

    if request.qlora:
        with warnings.catch_warnings():  # peft 0.21 calls transformers' deprecated gradient_checkpointing_enable
            warnings.simplefilter("ignore", FutureWarning)
            model = prepare_model_for_kbit_training(
                model, use_gradient_checkpointing=True, gradient_checkpointing_kwargs={"use_reentrant": False}
            )
    config = LoraConfig(
        r=request.rank,
        lora_alpha=request.alpha,
        lora_dropout=request.dropout,
        target_modules=target_pattern(request),
        bias="none",
    )
    set_seed(request.seed)  # the LoRA matrices' initial values
    try:
        with warnings.catch_warnings():
            # peft 0.21 still reads transformers' deprecated alias; harmless until transformers 6
            warnings.filterwarnings("ignore", "`is_gradient_checkpointing` is deprecated", FutureWarning)
            return get_peft_model(model, config)
    except ValueError as e:
        names = sorted({n.rpartition(".")[2] for n, m in model.named_modules() if type(m).__name__ == "Linear"})
        raise ConfigError(
            f"--target-modules {','.join(request.target_modules)}: {e}. The model's linear layers: {', '.join(names)}"
        ) from e


def with_model(loaded: LoadedModel, model: Any) -> tuple[LoadedModel, AdapterSet]:
    """The loaded base with `model` (its LoRA attached) in its place: what the engine reads with
    while it trains, its LoRA always on."""
    import dataclasses

    return dataclasses.replace(loaded, model=model), AdapterSet(model, [])


def training_arguments(request: TrainRequest, loaded: LoadedModel, total_steps: int, checkpoints: Path) -> Any:
    from transformers import TrainingArguments

    on_cuda = loaded.device.startswith("cuda")
    return TrainingArguments(
        output_dir=str(checkpoints),
        per_device_train_batch_size=1,  # documents differ in length and pages; accumulation gives the batch
        gradient_accumulation_steps=request.grad_accum,
        num_train_epochs=request.epochs,
        max_steps=request.steps or -1,
        learning_rate=request.lr,
        lr_scheduler_type="linear",
        warmup_steps=max(1, round(0.03 * total_steps)) if total_steps > 10 else 0,
        weight_decay=0.0,
        activation_checkpointing=True,  # transformers 5's name for gradient checkpointing
        activation_checkpointing_kwargs={"use_reentrant": False},
        use_cpu=not on_cuda,
        bf16=on_cuda and loaded.dtype == "bfloat16",
        fp16=on_cuda and loaded.dtype == "float16",
        logging_strategy="steps",
        logging_steps=1,
        save_strategy="epoch",
        save_total_limit=2,
        report_to="none",
        disable_tqdm=True,  # progress is ours: loss and ETA on the console
        seed=request.seed,
        data_seed=request.seed,
        remove_unused_columns=False,  # the processor's tensors (pixel_values, mm_token_type_ids) all go in
        label_names=["labels"],
        dataloader_num_workers=0,
        dataloader_pin_memory=False,
    )
