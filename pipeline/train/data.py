"""Samples as the Trainer's data: one document's model inputs per item, batches padded on the right.

An item is built when the Trainer asks for it, by the function the engine builds its inputs with
(`inputs.model_inputs`, with the answer and its labels), from page images made by the engine's own
`page_image`: nothing is cached that could drift from what the engine does. The collator keeps every
tensor the processor returns (Qwen-VL's forward needs `mm_token_type_ids`): per-token tensors are
padded, image tensors (`pixel_values`, `image_grid_thw`) concatenated.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ledgerlens.pipeline.engines.transformers.inputs import IGNORE_INDEX, model_inputs

if TYPE_CHECKING:  # the collator is used without the read stage too (benchmarks on a GPU machine)
    from ledgerlens.pipeline.train.samples import Reader, Sample

PER_TOKEN = ("input_ids", "labels", "attention_mask", "mm_token_type_ids", "token_type_ids")


class SampleDataset:
    """A map-style dataset (len + getitem) the Trainer's DataLoader reads."""

    def __init__(self, samples: list[Sample], reader: Reader, processor: Any) -> None:
        self.samples = samples
        self.reader = reader
        self.processor = processor

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> dict[str, Any]:
        sample = self.samples[i]
        images = self.reader.images(sample.pages)
        return dict(model_inputs(self.processor, sample.conversation, images, answer=sample.answer))


class Collator:
    def __init__(self, pad_id: int) -> None:
        self.pad_id = pad_id

    def __call__(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        import torch
        from torch.nn.functional import pad

        longest = max(int(item["input_ids"].shape[1]) for item in items)
        batch: dict[str, Any] = {}
        for key in items[0]:
            tensors = [item[key] for item in items]
            if key in PER_TOKEN:
                fill = {"input_ids": self.pad_id, "labels": IGNORE_INDEX}.get(key, 0)
                tensors = [pad(t, (0, longest - t.shape[1]), value=fill) for t in tensors]
            batch[key] = torch.cat(tensors, dim=0)
        return batch
