"""What every model engine does with a model's answers, whichever way it calls the model.

A *reading* is one conversation about some pages: ask, parse the JSON, hold it to the pipeline's
own checks, and put the problems back to the model (a bounded re-ask). Readings are merged
(lists concatenated, single values from the surest reading), every field gets its confidence
and evidence, amounts/dates/ids are grounded on the page words, and the whole becomes the
engine's `EngineOutput`. The transformers engine (a local model) and the openai engine (a model
server) differ only in how they ask; everything here is shared.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ledgerlens.pipeline.doctypes.schemas import DocumentSchema
from ledgerlens.pipeline.engines.base import AnswerChecks
from ledgerlens.pipeline.engines.model.decode import parse_json
from ledgerlens.pipeline.engines.model.merge import PageReading, merge_readings
from ledgerlens.pipeline.engines.model.prompts import Conversation, PromptVersion, reask_text
from ledgerlens.pipeline.types import EngineOutput, FieldEvidence, Issue, Located, Page, Severity

STAGE = "extract"


class Answer(Protocol):
    """One model answer: a `decode.Generation` (local model) or a server's completion."""

    text: str
    token_bytes: list[bytes]
    logprobs: list[float]
    prompt_tokens: int
    seconds: float
    complete: bool

    @property
    def new_tokens(self) -> int: ...


@dataclass
class Attempt:
    prompt_tokens: int
    new_tokens: int
    seconds: float
    problems: list[str]
    complete: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "new_tokens": self.new_tokens,
            "seconds": round(self.seconds, 3),
            "problems": self.problems,
            "complete": self.complete,
        }


@dataclass
class Reading:
    pages: list[int]  # 0-based indices of the pages this conversation saw
    data: dict[str, Any]
    generation: Answer
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        return self.attempts[-1].problems if self.attempts else []


Ask = Callable[[Conversation, int], Answer]  # (conversation so far, attempt number) -> the answer
Check = Callable[[dict[str, Any]], list[str]]  # parsed data -> problems (error messages)


def read_with_reasks(
    pages: list[int],
    conversation: Conversation,
    ask: Ask,
    check: Check,
    prompt: PromptVersion,
    schema: DocumentSchema,
    *,
    max_reasks: int,
    max_new_tokens: int,
) -> Reading:
    """Ask, parse, check; put the problems back to the model up to `max_reasks` times."""
    attempts: list[Attempt] = []
    data: dict[str, Any] | None = None
    for attempt in range(1 + max_reasks):
        answer = ask(conversation, attempt)
        data, error = parse_json(answer.text)
        problems = [error] if error else check(data or {})
        if not answer.complete:
            problems.insert(0, f"the answer did not finish within {max_new_tokens} new tokens")
        attempts.append(Attempt(answer.prompt_tokens, answer.new_tokens, answer.seconds, problems, answer.complete))
        if not problems or attempt == max_reasks:
            break
        conversation.add_reask(answer.text, reask_text(prompt, schema, problems, answer.text, conversation.words))
    return Reading(pages, data or {}, answer, attempts)


def reading_output(
    readings: list[Reading],
    schema: DocumentSchema,
    pages: list[Page],
    info: dict[str, Any],
    timings: dict[str, float],
    confidence: Callable[[Reading], dict[str, float]],
    checks: AnswerChecks,
) -> EngineOutput:
    """The readings of one document merged, grounded and recorded (`info["document"]` gets the attempts)."""
    merged = merge_readings([PageReading(r.pages, r.data, confidence(r)) for r in readings], schema.field_kinds)
    canonical, found = checks.locate(merged.data, schema, pages)
    evidence, issues = field_evidence(merged.data, merged.confidence, merged.page, canonical, found)
    issues += reading_issues(readings)
    attempts = [a for r in readings for a in r.attempts]
    info.setdefault("document", {}).update(
        {
            "conversations": [[p + 1 for p in r.pages] for r in readings],
            "attempts": [a.to_dict() for a in attempts],
            "prompt_tokens": sum(a.prompt_tokens for a in attempts),
            "new_tokens": sum(a.new_tokens for a in attempts),
        }
    )
    return EngineOutput(
        raw_text="\n".join(r.generation.text for r in readings),
        data=merged.data,
        field_evidence=evidence,
        model_info=info,
        timings={**timings, "generate": sum(a.seconds for a in attempts)},
        token_logprobs=[lp for r in readings for lp in r.generation.logprobs] or None,
        issues=issues,
    )


def field_evidence(
    data: dict[str, Any],
    confidence: dict[str, float],
    page_of: dict[str, int | None],
    canonical: dict[str, Any],
    found: dict[str, Located | None],
) -> tuple[dict[str, FieldEvidence], list[Issue]]:
    """Each field's confidence and where it is on the pages (`found`, from the checks' `locate`
    of the `canonical` data); a value printed nowhere is an issue."""
    evidence: dict[str, FieldEvidence] = {}
    for key in data:
        match = found.get(key)
        conf = confidence.get(key, 0.0)
        if match is not None:
            evidence[key] = FieldEvidence(conf, match.page, match.bbox, "model+page", match.text)
        else:
            source = "model (not on page)" if key in found else "model"
            evidence[key] = FieldEvidence(conf, page_of.get(key), None, source, "")
    issues = [
        Issue(
            "ground",
            "not_on_page",
            Severity.WARNING,
            f"{path} = {_value_at(canonical, path)} was read by the model but appears on no page: check it",
            field=path,
        )
        for path, match in found.items()
        if match is None
    ]
    return evidence, issues


def reading_issues(readings: list[Reading]) -> list[Issue]:
    issues = []
    for r in readings:
        where = r.pages[0] + 1 if len(r.pages) == 1 else None
        last = r.attempts[-1]
        if not last.complete:
            issues.append(Issue(STAGE, "output_truncated", Severity.ERROR, last.problems[0], page=where))
        if len(r.attempts) > 1 and r.problems:
            issues.append(
                Issue(
                    STAGE,
                    "reask_exhausted",
                    Severity.WARNING,
                    f"{len(r.attempts)} attempts; problems left after the last: {'; '.join(r.problems[:3])}",
                    page=where,
                )
            )
        if not r.data and r.problems:
            issues.append(Issue(STAGE, "model_output_invalid", Severity.ERROR, r.problems[0], page=where))
    return issues


def _value_at(data: dict[str, Any], path: str) -> Any:
    node: Any = data
    for part in path.replace("]", "").replace("[", ".").split("."):
        node = node[int(part)] if isinstance(node, list) else node.get(part)
    return node
