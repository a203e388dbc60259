"""The `transformers` engine: a local vision-language model (Qwen-VL, Phi-3.5-Vision) loaded with
transformers, quantized, with LoRA adapters, decoding under the schema's grammar. torch and
transformers (the `vlm` extra) are imported inside functions, only when a model is used."""
