"""What every request of the review screen shares: the workspace, its configuration, store,
schemas and templates (one per app, on `app.state.review`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment
from starlette.requests import Request

from ledgerlens.pipeline.books.store import Store
from ledgerlens.pipeline.config import Config
from ledgerlens.pipeline.doctypes.schemas import DocumentSchema
from ledgerlens.pipeline.intake.workspace import Workspace


@dataclass
class ReviewContext:
    workspace: Workspace
    config: Config
    store: Store
    schemas: dict[str, DocumentSchema]
    templates: Environment

    @property
    def root(self) -> Path:
        return self.workspace.root


def context(request: Request) -> ReviewContext:
    review: ReviewContext = request.app.state.review
    return review
