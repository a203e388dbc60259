"""Tiny random text-only causal LMs built offline (no weights, no network): Qwen2 (as under
NuExtract-tiny-v1.5) and Phi-3 (as under NuExtract-1.5), each with a BPE tokenizer that knows the
chat and NuExtract markers. About 0.1 M parameters; outputs are noise, structure is real: the
tokenizer, the chat template, AutoModelForCausalLM and generate(). Recipe:
../shared/notes/tiny_text_recipe.py.
"""

from __future__ import annotations

from pathlib import Path

SPECIALS = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|input|>", "<|output|>", "<|end-output|>",
    "<|user|>", "<|assistant|>", "<|end|>",
]  # fmt: skip
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
CORPUS = [
    '{"invoice_number": "INV-2024-0042", "total_amount": "1234.56", "date": "2024-03-01"}',
    "### Template:\n### Text:\nRechnung Nr. 123 Gesamtbetrag 99,90 EUR Datum 01.03.2024 Invoice Total Due",
    "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789 .,:;-+_/\\\"'{}[]()<>!?@#$%&*= \n\t",
] * 50


def build_tokenizer():
    """The vlm tests' tokenizer recipe with the chat and NuExtract markers, and a chat template."""
    from vlm_models import build_tokenizer as bpe

    tok = bpe(specials=SPECIALS, corpus=CORPUS)
    tok.chat_template = CHAT_TEMPLATE
    return tok


def build_tiny_text_model(family: str, folder: Path, *, head_scale: float = 1.0) -> Path:
    """Save a tiny random causal LM of `family` (qwen2 or phi3) with its tokenizer into `folder`.
    `head_scale` multiplies the output head's weights (see vlm_models.build_tiny_model)."""
    import torch
    from transformers import AutoModelForCausalLM, Phi3Config, Qwen2Config

    torch.manual_seed(0)
    tok = build_tokenizer()
    ids = {
        "vocab_size": len(tok),
        "bos_token_id": tok.convert_tokens_to_ids("<|endoftext|>"),
        "eos_token_id": tok.convert_tokens_to_ids("<|im_end|>"),
        "pad_token_id": tok.convert_tokens_to_ids("<|endoftext|>"),
    }
    shape = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, max_position_embeddings=8192)  # fmt: skip
    config = Qwen2Config(**shape, **ids) if family == "qwen2" else Phi3Config(**shape, **ids)
    model = AutoModelForCausalLM.from_config(config)
    if head_scale != 1.0:
        with torch.no_grad():
            model.lm_head.weight.mul_(head_scale)
    model.generation_config.eos_token_id = ids["eos_token_id"]
    model.generation_config.pad_token_id = ids["pad_token_id"]
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder
