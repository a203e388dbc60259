"""Vision-language models for the transformers engine: registry, loading, quantization, adapters,
prompts, constrained decoding. Imports torch/transformers lazily, inside functions."""
