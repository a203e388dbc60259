"""The document page's two actions: work out corrections (`check`, nothing stored) and store them
(`save`, optionally approving the document). Both go through `pipeline.books.review`: `revise`
for the check, `apply_corrections` for the save, the same function `review import` uses.

Body (JSON): `{"version": 3, "seen": "<updated_at the page showed>", "changes": {"total_amount":
"1.234,56", "line_items[2].amount": "10"}, "accept": ["date"], "approve": true}`. Field paths are
checked against a strict pattern; values are text, as typed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from ledgerlens.pipeline.books.audit import audit_trail
from ledgerlens.pipeline.books.duplicates import checked_numbers, flag_duplicates
from ledgerlens.pipeline.books.review import Conflict, Correction, apply_corrections, revise
from ledgerlens.pipeline.export.columns import value_at
from ledgerlens.pipeline.types import Issue

from .context import context
from .views import stored_document

MAX_BODY = 1_000_000
MAX_VALUE = 2_000
_PATH = re.compile(r"[a-z][a-z0-9_]{0,63}(\[\d{1,4}\]\.[a-z][a-z0-9_]{0,63})?")
SOURCE = "review screen"


@dataclass(frozen=True)
class Edit:
    version: int
    seen: str
    changes: dict[str, str]
    accept: list[str]
    approve: bool

    def corrections(self, doc_id: int) -> list[Correction]:
        out = [Correction(0, doc_id, f, v, "corrected") for f, v in self.changes.items()]
        return out + [Correction(0, doc_id, f, None, "accepted") for f in self.accept if f not in self.changes]


async def _edit(request: Request) -> Edit:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise HTTPException(413, "the request is too large")
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        raise HTTPException(400, "the request is not JSON") from None
    if not isinstance(data, dict):
        raise HTTPException(400, "the request must be a JSON object")
    changes, accept = data.get("changes") or {}, data.get("accept") or []
    version = data.get("version")
    if not isinstance(changes, dict) or not isinstance(accept, list):
        raise HTTPException(400, "changes must be an object and accept a list")
    if not isinstance(version, int) or isinstance(version, bool):
        raise HTTPException(400, "version must be the document version the page showed")
    for name in [*changes, *accept]:
        if not isinstance(name, str) or not _PATH.fullmatch(name):
            raise HTTPException(400, f"{str(name)[:80]!r} is not a field path")
    for value in changes.values():
        if not isinstance(value, str) or len(value) > MAX_VALUE:
            raise HTTPException(400, f"values must be text of at most {MAX_VALUE} characters")
    return Edit(version, str(data.get("seen") or ""), dict(changes), list(accept), data.get("approve") is True)


def _issue(i: Issue) -> dict[str, Any]:
    return {"field": i.field, "code": i.code, "severity": str(i.severity), "message": i.message}


async def check(request: Request) -> JSONResponse:
    edit = await _edit(request)
    return await run_in_threadpool(_check, request, edit)


def _check(request: Request, edit: Edit) -> JSONResponse:
    ctx = context(request)
    stored = stored_document(request)
    schema = ctx.schemas.get(stored.result.doc_type)
    if schema is None:
        raise HTTPException(422, f"document type {stored.result.doc_type!r} has no schema: it cannot be corrected")
    corrections = edit.corrections(stored.id)
    rev = revise(stored, corrections, schema)
    approval = revise(stored, corrections, schema, approve=True)
    return JSONResponse(
        {
            "status": str(rev.status),
            "issues": [_issue(i) for i in rev.issues],
            "rejected": [{"field": c.field, "reason": why} for c, why in rev.rejected],
            "values": {c.field: value_at(rev.data, c.field) for c in rev.applied if c.field},
            "approvable": not approval.blocking,
            "blocking": [_issue(i) for i in approval.blocking],
            "version": stored.version,
        }
    )


async def save(request: Request) -> JSONResponse:
    edit = await _edit(request)
    return await run_in_threadpool(_save, request, edit)


def _save(request: Request, edit: Edit) -> JSONResponse:
    ctx = context(request)
    stored = stored_document(request)
    if ctx.schemas.get(stored.result.doc_type) is None:
        raise HTTPException(422, f"document type {stored.result.doc_type!r} has no schema: it cannot be corrected")
    corrections = edit.corrections(stored.id)
    # All or nothing from the screen: a value that does not read as its field stores nothing.
    trial = revise(stored, corrections, ctx.schemas[stored.result.doc_type], approve=edit.approve)
    if trial.rejected:
        rejected = [{"field": c.field, "reason": why} for c, why in trial.rejected]
        return JSONResponse({"error": "some values were not accepted; nothing was saved", "rejected": rejected}, 422)
    report = apply_corrections(
        ctx.store,
        corrections,
        ctx.schemas,
        user=request.state.reviewer,
        workspace_root=ctx.root,
        source=SOURCE,
        approve={stored.id} if edit.approve else (),
        versions={stored.id: edit.version},
    )
    if report.conflicts:
        return JSONResponse(_conflict(ctx, report.conflicts[0], edit), status_code=409)
    if report.refused:
        return JSONResponse({"error": f"not approved: {report.refused[0][1]}", "refused": True}, status_code=422)
    now = ctx.store.get_by_id(stored.id) or stored
    if report.documents:  # a corrected vendor, number or total may make or break a duplicate
        vendors = {stored.result.data.get("vendor_name"), now.result.data.get("vendor_name")}
        flag_duplicates(ctx.store, checked_numbers(ctx.schemas), vendors=vendors)
        now = ctx.store.get_by_id(stored.id) or now
    return JSONResponse(
        {
            "saved": bool(report.documents),
            "approved": stored.id in report.approved,
            "status": str(now.result.status),
            "version": now.version,
            "examples": [p.name for p in report.examples],
        }
    )


def _naive_utc(t: datetime) -> datetime:
    return t.astimezone(UTC).replace(tzinfo=None) if t.tzinfo else t


def _conflict(ctx: Any, conflict: Conflict, edit: Edit) -> dict[str, Any]:
    """What the other save changed, so the reviewer sees it before deciding anything."""
    current = conflict.current
    try:
        since: datetime | None = _naive_utc(datetime.fromisoformat(edit.seen)) if edit.seen else None
    except ValueError:
        since = None
    rows = [a for a in audit_trail(ctx.store, current.result.sha256) if since is None or _naive_utc(a.at) > since]
    changes = [
        {
            "user": a.user,
            "at": _naive_utc(a.at).isoformat(timespec="seconds"),
            "field": a.field,
            "action": a.action,
            "old": a.old_value,
            "new": a.new_value,
        }
        for a in rows
    ]
    if not changes:
        when = _naive_utc(current.updated_at).isoformat(timespec="seconds")
        changes = [{"user": "", "at": when, "field": "", "action": "processed again", "old": None, "new": None}]
    return {
        "error": "this document was changed by someone else since you opened it; nothing of yours was saved",
        "conflict": True,
        "changes": changes,
        "current": {f: value_at(current.result.data, f) for f in edit.changes},
        "version": current.version,
    }
