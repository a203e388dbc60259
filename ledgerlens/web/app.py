"""The review screen's web application: Starlette routes, Jinja2 templates (autoescaped), our own
small script and style sheet. Business logic lives in `ledgerlens.pipeline.books`; this module
only turns requests into its calls and its answers into pages.

Routes (documents are named by their store id only; no path ever comes from the browser):

    GET  /                              the queue (filters in the query string)
    GET  /documents/<id>                the document: page images, boxes, the form
    GET  /documents/<id>/pages/<n>.png  page n's image (rendered once, cached in .cache/review/)
    GET  /documents/<id>/words.json     the pages' words and the boxes found in them (read once)
    POST /documents/<id>/check          corrections worked out, nothing stored
    POST /documents/<id>/save           corrections (and approval) stored through `apply_corrections`
"""

from __future__ import annotations

from importlib.resources import files

from jinja2 import Environment, PackageLoader, StrictUndefined
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ledgerlens.pipeline.books.store import Store
from ledgerlens.pipeline.config import Config
from ledgerlens.pipeline.doctypes.schemas import load_schemas
from ledgerlens.pipeline.intake.workspace import Workspace

from . import api, views
from .context import ReviewContext
from .security import Access, Guard


def templates() -> Environment:
    # Autoescape everything: every byte of document text reaches the page as text, never as markup.
    env = Environment(loader=PackageLoader("ledgerlens.web", "templates"), autoescape=True, undefined=StrictUndefined)
    env.filters["pct"] = lambda v: "" if v is None else f"{float(v) * 100:.0f} %"
    env.filters["frac"] = lambda v: f"{float(v):.5f}"
    return env


def create_app(workspace: Workspace, config: Config, access: Access, store: Store | None = None) -> Starlette:
    ctx = ReviewContext(
        workspace=workspace,
        config=config,
        store=store or Store.for_workspace(workspace.root, config.store.url),
        schemas=load_schemas(workspace.schemas_dir),
        templates=templates(),
    )
    static = StaticFiles(directory=str(files("ledgerlens.web") / "static"))
    routes = [
        Route("/", views.queue, methods=["GET"]),
        Route("/documents/{doc_id:int}", views.document, methods=["GET"]),
        Route("/documents/{doc_id:int}/pages/{page:int}.png", views.page_image, methods=["GET"]),
        Route("/documents/{doc_id:int}/words.json", views.words, methods=["GET"]),
        Route("/documents/{doc_id:int}/check", api.check, methods=["POST"]),
        Route("/documents/{doc_id:int}/save", api.save, methods=["POST"]),
        Mount("/static", static, name="static"),
        Route("/favicon.ico", lambda _request: Response(status_code=204), methods=["GET"]),
    ]
    app = Starlette(routes=routes, exception_handlers=views.ERROR_HANDLERS)
    app.state.review = ctx
    app.add_middleware(Guard, access=access)
    return app
