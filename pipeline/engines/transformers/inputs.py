"""A conversation and its page images -> the model's input tensors: the one way in, for reading and training.

Reading (`generate.Generator.prepare`) and training (`pipeline/train`) both call `model_inputs`, so
a model learns from exactly the tokens and pixels it is later asked with: the family's chat
template with the generation prompt, the processor's image tokens and pixel values. For training
the answer follows as the template closes an assistant turn (the answer's tokens and the
end-of-turn token), and `labels` score those tokens only: the prompt and the page are context.

Images are optional (a text-only model's processor is its tokenizer).
"""

from __future__ import annotations

from typing import Any

from ledgerlens.pipeline.engines.model.prompts import Conversation
from ledgerlens.pipeline.errors import ConfigError

IGNORE_INDEX = -100  # the label of a token the loss does not score
# Tensors with one value per token: extended with the answer (mm_token_type_ids: Qwen-VL's forward needs it).
PER_TOKEN = ("attention_mask", "mm_token_type_ids", "token_type_ids")


def template_owner(processor: Any) -> Any:
    """Whoever holds the chat template: the processor, else its tokenizer (or the tokenizer itself)."""
    tokenizer = getattr(processor, "tokenizer", processor)
    return processor if getattr(processor, "chat_template", None) else tokenizer


def chat_prompt(processor: Any, conversation: Conversation) -> str:
    """The conversation as the model reads it, ending where the assistant's answer begins (a prompt
    that is not a chat, NuExtract 1.5's, is read as written)."""
    if conversation.raw is not None:
        return conversation.raw
    return template_owner(processor).apply_chat_template(
        conversation.messages, add_generation_prompt=True, tokenize=False
    )


def model_inputs(processor: Any, conversation: Conversation, images: list[Any], answer: str | None = None) -> Any:
    """Input tensors (batch of one) for `conversation` about `images`; with `answer`, followed by
    the answer's tokens and `labels` that score only them."""
    prompt = chat_prompt(processor, conversation)
    if conversation.family == "phi3_v":
        inputs = processor(prompt, images or None, return_tensors="pt")
    else:
        kwargs = {"images": images} if images else {}
        inputs = processor(text=[prompt], return_tensors="pt", **kwargs)
    if answer is None:
        return inputs
    return _with_answer(inputs, answer_ids(processor, conversation, prompt, answer))


def answer_ids(processor: Any, conversation: Conversation, prompt: str, answer: str) -> list[int]:
    """The answer's tokens and the end-of-turn token, as the chat template closes an assistant turn.

    The template renders the answered conversation; what follows the prompt must be the answer, then
    the template's closing up to its first special token (Qwen `<|im_end|>`, Phi `<|end|>`): the
    token generation stops at. Anything after it (a newline) is never generated, so never learned.
    """
    tokenizer = getattr(processor, "tokenizer", processor)
    if conversation.raw is not None:  # not a chat: the answer, then its stop token (else the end token)
        ids = tokenizer(answer, add_special_tokens=False)["input_ids"]
        vocab = tokenizer.get_vocab()
        end = next((vocab[t] for t in conversation.stop if t in vocab), tokenizer.eos_token_id)
        return [*ids, int(end)]
    full = template_owner(processor).apply_chat_template(
        conversation.answered(answer), add_generation_prompt=False, tokenize=False
    )
    if not full.startswith(prompt) or not full[len(prompt) :].startswith(answer):
        raise ConfigError(
            "the model's chat template does not render an answered conversation as the prompt followed by "
            "the answer: it cannot be fine-tuned with the prompt it reads with"
        )
    ids = tokenizer(answer, add_special_tokens=False)["input_ids"]
    closing = tokenizer(full[len(prompt) + len(answer) :], add_special_tokens=False)["input_ids"]
    special = set(tokenizer.all_special_ids)
    end = next((t for t in closing if t in special), tokenizer.eos_token_id)
    if end is None:
        raise ConfigError("the model's tokenizer has no end-of-turn token: an answer's end cannot be learned")
    return [*ids, int(end)]


def _with_answer(inputs: Any, ids: list[int]) -> Any:
    import torch

    prompt_ids = inputs["input_ids"]
    answer = torch.tensor([ids], dtype=prompt_ids.dtype)
    n = answer.shape[1]
    inputs["labels"] = torch.cat([torch.full_like(prompt_ids, IGNORE_INDEX), answer], dim=1)
    inputs["input_ids"] = torch.cat([prompt_ids, answer], dim=1)
    for key in PER_TOKEN:
        if key in inputs:
            fill = 1 if key == "attention_mask" else 0  # the answer is text: attended, not an image token
            extra = torch.full((1, n), fill, dtype=inputs[key].dtype)
            inputs[key] = torch.cat([inputs[key], extra], dim=1)
    return inputs
