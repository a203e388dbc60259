"""Each example as the transformers engine reads it: its pages, the conversation, the answer to learn.

No train/inference skew: the document goes through the read stage as for any engine that needs
images (load, rasterize every page); pages become images through the engine's own `page_image`
(its pixel limits and patch factor) each time a sample is used; the conversation is the engine's
(`prompts.start` with the configured prompt version) and holds all pages when the engine would read
them in one conversation (`engine.plan_conversations`); the answer is `constrain.canonical_answer`
of the labels, which the schema's grammar is checked to allow token by token. A document the
engine would read page by page is left out (its labels are the document's, not a page's).
A text model's example is read as the engine reads it too: the text layer or OCR of the pages
(`read_text`), their layout text in the engine's chunks (`engine.text_chunks`); a document that
needs more than one chunk is left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledgerlens.pipeline.config import PipelineOptions
from ledgerlens.pipeline.doctypes.schemas import DocumentSchema
from ledgerlens.pipeline.engines.model.constrain import JsonGrammar, canonical_answer, model_schema
from ledgerlens.pipeline.engines.model.images import page_image
from ledgerlens.pipeline.engines.model.prompts import Conversation, PromptVersion, start
from ledgerlens.pipeline.engines.transformers.engine import plan_conversations, text_chunks
from ledgerlens.pipeline.engines.transformers.inputs import answer_ids, chat_prompt
from ledgerlens.pipeline.engines.transformers.options import TransformersOptions
from ledgerlens.pipeline.engines.transformers.registry import ResolvedModel
from ledgerlens.pipeline.errors import DocumentError
from ledgerlens.pipeline.read.load import load_document
from ledgerlens.pipeline.read.ocr import read_text
from ledgerlens.pipeline.read.rasterize import rasterize
from ledgerlens.pipeline.train.examples import Example, fail
from ledgerlens.pipeline.types import Page


@dataclass(frozen=True)
class Reader:
    """How the engine reads a document: what a sample needs to be read the same way."""

    resolved: ResolvedModel
    options: TransformersOptions
    prompt: PromptVersion
    schemas: dict[str, DocumentSchema]
    pipeline: PipelineOptions
    factor: int  # page sides are multiples of it (engine.image_factor); 0 for a text model
    processor: Any = None  # a text model's tokenizer: it measures the chunks of layout text

    @property
    def reads_text(self) -> bool:
        return self.resolved.kind == "text"

    def images(self, pages: list[Page]) -> list[Any]:
        if self.reads_text:
            return []
        return [page_image(p, self.factor, self.options.min_pixels, self.options.max_pixels) for p in pages]


@dataclass
class Sample:
    example: Example
    pages: list[Page]  # rasterized, files under the run's work folder
    schema: DocumentSchema
    conversation: Conversation
    answer: str  # the canonical JSON the model learns to write


def read_samples(examples: list[Example], reader: Reader, work: Path) -> tuple[list[Sample], list[str]]:
    """Every example read as the engine reads it; the notes on documents left out. A document that
    cannot be read is a problem (ConfigError, with all others)."""
    samples, notes, problems = [], [], []
    for n, example in enumerate(examples):
        try:
            doc = load_document(example.document, reader.pipeline, example.document.name)
            doc = rasterize(doc, reader.pipeline, work / f"doc{n}", all_pages=not reader.reads_text)
            if reader.reads_text:
                doc = read_text(doc, reader.pipeline)
            images = reader.images(doc.pages)
        except DocumentError as e:
            problems.append(f"{example.document}: cannot be read ({e.message}{' ' + e.hint if e.hint else ''})")
            continue
        schema = reader.schemas[example.doc_type]
        answer = canonical_answer(example.fields, model_schema(schema.bundled()))
        if reader.reads_text:
            chunks = text_chunks(reader.processor, reader.prompt, reader.resolved, reader.options, schema, doc.pages)
            if len(chunks) > 1:
                notes.append(
                    f"{example.name}: its text does not fit one conversation ({len(chunks)} chunks), so the engine "
                    "reads it in parts; the labels are the whole document's: left out"
                )
                continue
            conversation = start(
                reader.prompt, reader.resolved.family, schema, len(doc.pages), words=chunks[0].text, plain=True
            )
            samples.append(Sample(example, doc.pages, schema, conversation, answer))
            continue
        if len(plan_conversations(images, reader.factor, reader.options, reader.resolved)) > 1:
            notes.append(
                f"{example.name}: its {len(images)} pages do not fit one conversation, so the engine reads them "
                "one by one; the labels are the whole document's: left out (lower max_pixels to include it)"
            )
            continue
        conversation = start(reader.prompt, reader.resolved.family, schema, len(images))
        samples.append(Sample(example, doc.pages, schema, conversation, answer))
    fail(problems, "the training documents cannot be read")
    return samples, notes


def check_answers(samples: list[Sample], processor: Any, grammar: JsonGrammar, eos_ids: list[int], budget: int) -> None:
    """Every answer is one the engine could write: the grammar allows it token by token, it ends
    with a token generation stops at, and it fits the engine's budget of new tokens."""
    problems = []
    for sample in samples:
        schema = model_schema(sample.schema.bundled())
        ids = answer_ids(processor, sample.conversation, chat_prompt(processor, sample.conversation), sample.answer)
        where = sample.example.label
        if ids[-1] not in eos_ids:
            problems.append(f"{where}: the chat template ends an answer with token {ids[-1]}, where generation goes on")
        elif not grammar.accepts(schema, ids[:-1]):
            problems.append(
                f"{where}: the labels are not an answer the {sample.example.doc_type} schema's grammar allows"
            )
        elif len(ids) > budget:
            problems.append(
                f"{where}: the answer is {len(ids)} tokens, over engine.options.max_new_tokens = {budget}; "
                "the engine could never write it (raise max_new_tokens)"
            )
    fail(problems, "the training answers do not fit the engine")
