"""Stage `train`: reviewed documents -> a LoRA adapter for the transformers engine (`ledgerlens train`).

It reads documents (read/), builds the model's inputs the way the engine reads with them
(engines/), canonicalises the labels (check/) and scores extraction (measure/), so it sits above
measure. torch, transformers and peft (the `vlm` extra) are imported inside functions only.

- `examples`: labelled examples found and checked (review folders, `bench-gt/1` folders);
- `samples`: each example as the engine would read it: pages, conversation, the answer to learn;
- `data`: the samples as model inputs for the Trainer (dataset and collator);
- `selection`: extraction accuracy on the validation documents, the best adapter kept;
- `callbacks`: progress (loss, ETA) and Ctrl-C (save a checkpoint and stop);
- `record`: training.json and registering an adapter in the workspace's ledgerlens.toml;
- `run`: the whole run, from the request to the adapter.
"""
