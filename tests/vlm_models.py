"""Tiny random Qwen2-VL / Qwen2.5-VL models built offline (no weights, no network), saved as model
folders the transformers engine loads like any downloaded model. About 0.2 M parameters each;
outputs are garbage, structure is real: same processor, chat template, vision tower and generate().
Recipe: ../shared/notes/tiny_vlm_recipe.py.
"""

from __future__ import annotations

from pathlib import Path

SPECIALS = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
    "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>",
    "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>",
]  # fmt: skip

# The structure of the official Qwen2-VL chat template (default system line, vision placeholders).
CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}"
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content %}"
    "{% set image_count.value = image_count.value + 1 %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

CORPUS = [
    'Extract the invoice fields as JSON. {"invoice_number": "INV-2024-0042", "total_amount": "1234.56"}',
    '{"vendor_name": "ACME S.A.", "date": "2024-03-01", "currency": "EUR", "total_amount": "99.90"}',
    "Factura numero importe total IVA fecha proveedor cliente Rechnung Betrag balance line_items",
    "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789 .,:;-+_/\\\"'{}[]()<>!?@#$%&*= \n\t",
] * 50


def build_tokenizer(vocab_size: int = 512, specials: list[str] = SPECIALS, corpus: list[str] = CORPUS):
    """A byte-level BPE trained in-process on `corpus`, with `specials` as its special tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(corpus, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        model_max_length=8192,
        extra_special_tokens=None,
    )


def build_config(family: str, tok):
    from transformers import Qwen2_5_VLConfig, Qwen2VLConfig

    ids = {t: tok.convert_tokens_to_ids(t) for t in SPECIALS}
    text = dict(
        vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=8192,
        rope_parameters={"rope_type": "default", "rope_theta": 1e6, "mrope_section": [2, 3, 3]},
        bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<|endoftext|>"],
        tie_word_embeddings=False,
    )  # fmt: skip
    common = dict(
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
    )  # fmt: skip
    if family == "qwen2_vl":
        vision = dict(
            depth=2, embed_dim=32, hidden_size=64, num_heads=2, mlp_ratio=2, patch_size=14, spatial_merge_size=2,
            temporal_patch_size=2,
        )  # fmt: skip
        return Qwen2VLConfig(text_config=text, vision_config=vision, **common)
    vision = dict(
        depth=2, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=64, patch_size=14,
        spatial_merge_size=2, temporal_patch_size=2, window_size=56, fullatt_block_indexes=[1],
    )  # fmt: skip
    return Qwen2_5_VLConfig(text_config=text, vision_config=vision, **common)


def build_tiny_model(family: str, folder: Path, *, max_pixels: int = 448 * 448, head_scale: float = 1.0) -> Path:
    """Save a tiny random `family` model (qwen2_vl or qwen2_5_vl) with its processor into `folder`.

    `head_scale` multiplies the output head's random weights. Initialised small, with the hidden state
    held to unit scale by the final norm, the head's logits stay within about +-1: no token can get
    a probability above ~1 % whatever a LoRA below it learns. Training tests scale it (25) to a trained
    head's range so that a tiny model can learn its examples by heart."""
    import torch
    from ledgerlens.pipeline.engines.transformers.processors import image_only_class
    from transformers import AutoModelForImageTextToText
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    torch.manual_seed(0)
    tok = build_tokenizer()
    improc = Qwen2VLImageProcessorPil(size={"shortest_edge": 56 * 56, "longest_edge": max_pixels})
    processor = image_only_class(family)(image_processor=improc, tokenizer=tok, chat_template=CHAT_TEMPLATE)
    config = build_config(family, tok)
    model = AutoModelForImageTextToText.from_config(config)
    if head_scale != 1.0:
        with torch.no_grad():
            model.lm_head.weight.mul_(head_scale)
    model.generation_config.eos_token_id = config.text_config.eos_token_id
    model.generation_config.pad_token_id = config.text_config.pad_token_id
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder
