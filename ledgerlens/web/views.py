"""The review screen's pages: the queue, a document, its page images and words."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, Response

from ledgerlens.pipeline.books.evidence import located_boxes
from ledgerlens.pipeline.books.pages import PagesUnavailable, page_words
from ledgerlens.pipeline.books.pages import page_image as render_page
from ledgerlens.pipeline.books.queue import QueueFilter, next_document, queue_choices, queue_page
from ledgerlens.pipeline.books.store import StoredDocument
from ledgerlens.pipeline.errors import ConfigError
from ledgerlens.pipeline.types import Status

from .context import context
from .document import build_view

STATUSES = [str(s) for s in (Status.NEEDS_REVIEW, Status.FAILED, Status.OK)]


def render(request: Request, name: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    ctx = context(request)
    body = ctx.templates.get_template(name).render(
        reviewer=request.state.reviewer, csrf=request.state.csrf, workspace=ctx.root.name, **values
    )
    return HTMLResponse(body, status_code=status_code)


def _filter(request: Request) -> QueueFilter:
    try:
        return QueueFilter.from_query(request.query_params)
    except ConfigError as e:
        raise HTTPException(400, str(e)) from None


def queue(request: Request) -> HTMLResponse:
    ctx = context(request)
    flt = _filter(request)
    page_no = request.query_params.get("page", "1")
    result = queue_page(ctx.store, flt, int(page_no) if page_no.isdigit() else 1)
    return render(request, "queue.html", flt=flt, result=result, choices=queue_choices(ctx.store), statuses=STATUSES)


MAX_ID = 2**62  # larger numbers are no row id (and do not fit the database's integer)


def stored_document(request: Request) -> StoredDocument:
    doc_id = int(request.path_params["doc_id"])
    stored = context(request).store.get_by_id(doc_id) if doc_id < MAX_ID else None
    if stored is None:
        raise HTTPException(404, f"there is no document {request.path_params['doc_id']} in the store")
    return stored


def document(request: Request) -> HTMLResponse:
    ctx = context(request)
    stored = stored_document(request)
    flt = _filter(request)
    schema = ctx.schemas.get(stored.result.doc_type)
    view = build_view(stored, schema, ctx.config.pipeline.review_confidence)
    after = next_document(ctx.store, stored.id, flt)
    return render(
        request,
        "document.html",
        view=view,
        doc=stored,
        r=stored.result,
        flt=flt,
        next_url=_with_query(f"/documents/{after}", flt.query()) if after else "",
        queue_url=_with_query("/", flt.query()),
        reviewable=schema is not None and stored.result.status is not Status.FAILED,
        error_hint=str((stored.result.provenance.get("error") or {}).get("hint") or ""),
    )


def _with_query(path: str, query: str) -> str:
    return f"{path}?{query}" if query else path


def page_image(request: Request) -> Response:
    ctx = context(request)
    stored = stored_document(request)
    try:
        path = render_page(ctx.root, stored, int(request.path_params["page"]), ctx.config.pipeline)
    except PagesUnavailable as e:
        raise HTTPException(404, f"page {request.path_params['page']} cannot be shown: {e}") from None
    # The image of these bytes never changes (the URL carries their hash): the browser may keep it.
    return FileResponse(path, media_type="image/png", headers={"cache-control": "private, max-age=86400"})


def words(request: Request) -> JSONResponse:
    """The pages' words (for clicking a word into a field) and the boxes of values found in them."""
    ctx = context(request)
    stored = stored_document(request)
    try:
        pages = page_words(ctx.root, stored, ctx.config.pipeline)
    except PagesUnavailable as e:
        return JSONResponse({"pages": [], "boxes": [], "unavailable": str(e)})
    schema = ctx.schemas.get(stored.result.doc_type)
    kinds = schema.field_kinds if schema else {}
    skip = set(request.query_params.get("placed", "").split(","))
    boxes = located_boxes(stored.result, kinds, pages, skip)
    return JSONResponse(
        {
            "pages": [
                {
                    "page": p.index + 1,
                    "words": [
                        [w.text, *(round(v, 5) for v in _frac(w.bbox, p.width, p.height))]
                        for w in p.words
                        if p.width > 0 and p.height > 0
                    ],
                }
                for p in pages
            ],
            "boxes": [
                {"field": b.field, "page": b.page, "box": [round(v, 5) for v in b.box], "row": b.row} for b in boxes
            ],
        }
    )


def _frac(bbox: tuple[float, float, float, float], width: float, height: float) -> tuple[float, ...]:
    return (bbox[0] / width, bbox[1] / height, bbox[2] / width, bbox[3] / height)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if request.url.path.endswith((".json", "/check", "/save")):
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code)
    if "reviewer" not in request.state._state:
        return PlainTextResponse(exc.detail, status_code=exc.status_code)
    return render(request, "error.html", status_code=exc.status_code, message=exc.detail, code=exc.status_code)


ERROR_HANDLERS: dict[Any, Any] = {HTTPException: _http_error}
