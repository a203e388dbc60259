"""The pipeline's checks of a model's answer, in the shape model engines are handed them
(`engines.base.AnswerChecks`): the chain injects them, so engines import no business rules."""

from __future__ import annotations

from typing import Any

from ledgerlens.pipeline.check.grounding import ground
from ledgerlens.pipeline.check.parse import parse_output
from ledgerlens.pipeline.check.validate import validate
from ledgerlens.pipeline.doctypes.schemas import DocumentSchema
from ledgerlens.pipeline.types import Located, Page, Severity


class PipelineChecks:
    """Parse, validate and ground an answer the way the chain will once the engine returns."""

    def problems(self, data: dict[str, Any], doc_type: str, schema: DocumentSchema) -> list[str]:
        """The errors (not warnings) the pipeline's own checks would hold against this answer."""
        canonical, issues = parse_output(data, schema)
        issues += validate(canonical, doc_type, schema)
        return [i.message for i in issues if i.severity is Severity.ERROR]

    def locate(
        self, data: dict[str, Any], schema: DocumentSchema, pages: list[Page]
    ) -> tuple[dict[str, Any], dict[str, Located | None]]:
        canonical, _ = parse_output(data, schema)
        return canonical, ground(canonical, schema.field_kinds, pages)


PIPELINE_CHECKS = PipelineChecks()
