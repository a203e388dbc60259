"""The review screen's web app without a browser (Starlette's test client): what it serves, what it
escapes, and what it refuses (no CSRF token, no access token, a foreign Host, a path), and its
saves: corrections, approval, a refused approval, a conflict, all through `apply_corrections`."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from ledgerlens.pipeline.books.audit import audit_trail
from ledgerlens.pipeline.books.store import Store
from ledgerlens.pipeline.chain import Context, process_file
from ledgerlens.pipeline.check.validate import validate
from ledgerlens.pipeline.config import Config, PipelineOptions
from ledgerlens.pipeline.doctypes.schemas import load_schemas
from ledgerlens.pipeline.errors import ConfigError
from ledgerlens.pipeline.intake.workspace import Workspace, init_workspace
from ledgerlens.pipeline.types import DocumentResult, Status
from starlette.testclient import TestClient

from ledgerlens.web.app import create_app
from ledgerlens.web.security import Access, read_users

BASE = "http://127.0.0.1:8765"
XSS = "<img src=x onerror=alert(1)>"
INVOICE = {
    "invoice_number": "INV-9", "date": "2026-10-03", "vendor_name": "Acme Supplies GmbH", "currency": "EUR",
    "net_amount": "100.00", "tax_amount": "19.00", "total_amount": "120.00",
}  # fmt: skip


def _synthetic(ws: Workspace, n: int, data: dict[str, Any], source_path: str) -> DocumentResult:
    issues = validate(data, "invoice", load_schemas()["invoice"])
    return DocumentResult(
        sha256=f"{n:064x}", source_name=Path(source_path).name, media_type="application/pdf", page_count=1,
        doc_type="invoice", status=Status.NEEDS_REVIEW if issues else Status.OK, data=data, issues=issues,
        confidence=dict.fromkeys(data, 0.9), provenance={}, timings={}, source_path=source_path,
    )  # fmt: skip


@pytest.fixture(scope="module")
def strict() -> Any:
    """A context that sends fields read with less than 0.7 confidence to review: the sample's date."""
    return Context.create(Config(pipeline=PipelineOptions(review_confidence=0.7)))


@pytest.fixture
def books(tmp_path: Path, samples: Path, strict: Any) -> dict[str, Any]:
    """A workspace with a processed sample (invoice_es.pdf: needs review, a low-confidence date),
    an invoice whose total does not add up, one whose vendor is markup, one whose file lies outside."""
    ws = init_workspace(tmp_path / "books")
    shutil.copy(samples / "invoice_es.pdf", ws.done / "invoice_es.pdf")
    result = process_file(ws.done / "invoice_es.pdf", strict)
    result.source_path = "done/invoice_es.pdf"
    assert result.status is Status.NEEDS_REVIEW and {i.severity for i in result.issues} == {"warning"}
    (ws.done / "inv 9.pdf").write_bytes(b"%PDF-1.4 the scanned invoice")
    store = Store.for_workspace(ws.root)
    ids = {
        "es": store.save(result),
        "mismatch": store.save(_synthetic(ws, 9, dict(INVOICE), "done/inv 9.pdf")),
        "xss": store.save(_synthetic(ws, 10, {**INVOICE, "total_amount": "119.00", "vendor_name": XSS}, "done/x.pdf")),
        "outside": store.save(_synthetic(ws, 11, {**INVOICE, "total_amount": "119.00"}, "../../../etc/passwd")),
    }
    yield {"ws": ws, "store": store, "ids": ids}
    store.close()


def _client(books: dict[str, Any], access: Access | None = None) -> TestClient:
    ws = books["ws"]
    app = create_app(ws, Config(), access or Access.build("127.0.0.1", "alice"), store=books["store"])
    return TestClient(app, base_url=BASE)


def _csrf(client: TestClient, path: str = "/") -> str:
    page = client.get(path)
    assert page.status_code == 200
    found = re.search(r'<meta name="csrf-token" content="([0-9a-f]+)">', page.text)
    assert found
    return found[1]


def _post(client: TestClient, doc_id: int, action: str, body: dict[str, Any], token: str) -> Any:
    return client.post(f"/documents/{doc_id}/{action}", json=body, headers={"X-CSRF-Token": token})


# --- pages ------------------------------------------------------------------------------------


def test_the_queue_lists_documents_to_review_first_and_escapes_their_text(books: dict[str, Any]) -> None:
    client = _client(books)
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-security-policy"].startswith("default-src 'none'; script-src 'self'")
    assert page.headers["x-frame-options"] == "DENY" and page.headers["cache-control"] == "no-store"
    assert XSS not in page.text and "&lt;img src=x onerror=alert(1)&gt;" in page.text
    rows = re.findall(r'<tr class="status-(\w+)" data-id="(\d+)">', page.text)
    assert [s for s, _ in rows] == ["needs_review", "needs_review", "ok", "ok"]
    assert "<script>" not in page.text and 'src="/static/review.js"' in page.text  # our own file, no inline code
    assert client.get("/?status=needs_review&type=invoice&period=2026-10").status_code == 200
    assert client.get("/?period=<script>").status_code == 400


def test_the_document_page_has_a_box_per_value_and_escapes_text(books: dict[str, Any]) -> None:
    client = _client(books)
    page = client.get(f"/documents/{books['ids']['es']}").text
    box = re.search(r'<div class="box" data-field="total_amount" data-page="1"[^>]*>', page)
    assert box, "the total's box"
    x0, y0, x1, y1 = (float(re.search(rf'data-{k}="([0-9.]+)"', box[0])[1]) for k in ("x0", "y0", "x1", "y1"))  # type: ignore[index]
    assert 0.5 < x0 < x1 <= 1 and 0 < y0 < y1 < 1  # fractions of the page: right half, where totals are
    assert 'data-name="line_items[0].amount"' in page and 'data-name="tax_breakdown[0].rate"' in page
    assert "low_confidence" in page  # the issue, beside its field
    xss = client.get(f"/documents/{books['ids']['xss']}").text
    assert XSS not in xss and 'value="&lt;img src=x onerror=alert(1)&gt;"' in xss


def test_an_e_invoice_read_from_its_xml_says_why_it_has_no_boxes(books: dict[str, Any]) -> None:
    ws, store = books["ws"], books["store"]
    printed = {
        "invoice_number": "2025/F0871",
        "net_amount": "1109.27",
        "tax_amount": "232.95",
        "total_amount": "1342.22",
    }
    result = _synthetic(ws, 12, printed, "done/invoice_es.pdf")  # values the page prints, but read from XML
    xml = {"confidence": 1.0, "page": None, "bbox": None, "source": "xml:factur-x.xml", "text": ""}
    result.provenance = {"einvoice": {"attachment": "factur-x.xml"}, "fields": dict.fromkeys(result.data, xml)}
    doc_id = store.save(result)
    client = _client(books)
    page = client.get(f"/documents/{doc_id}").text
    assert "read from its embedded XML (factur-x.xml)" in page and 'class="box"' not in page
    assert "xml:factur-x.xml" in page  # beside each field: where its value came from
    words = client.get(f"/documents/{doc_id}/words.json").json()
    assert words["pages"][0]["words"] and words["boxes"] == []  # the page was read; nothing is pointed at


def test_words_and_the_boxes_found_in_them_are_read_once(books: dict[str, Any]) -> None:
    client = _client(books)
    doc_id = books["ids"]["es"]
    body = client.get(f"/documents/{doc_id}/words.json").json()
    assert any(w[0] == "1.342,22" for w in body["pages"][0]["words"])
    rows = [b for b in body["boxes"] if b["field"] == "line_items"]
    assert [b["row"] for b in rows] == [0, 1, 2, 3, 4]
    sha = books["store"].get_by_id(doc_id).result.sha256
    cache = books["ws"].root / ".cache" / "review" / sha / "words.json"
    stamp = cache.stat().st_mtime_ns
    assert client.get(f"/documents/{doc_id}/words.json").json() == body
    assert cache.stat().st_mtime_ns == stamp  # from the cache, not read again
    image = client.get(f"/documents/{doc_id}/pages/1.png?v={sha[:12]}")
    assert image.status_code == 200 and image.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert (cache.parent / "page-0001.png").is_file()


@pytest.mark.parametrize(
    "path",
    [
        "/documents/{outside}/pages/1.png",  # the store's path leads outside the workspace
        "/documents/{es}/pages/2.png",
        "/documents/{es}/pages/0.png",
        "/documents/99999/pages/1.png",
        "/documents/99999999999999999999999",
        "/documents/{es}/pages/..%2F..%2F..%2Fetc%2Fpasswd.png",
        "/documents/..%2Fledgerlens.toml",
        "/static/..%2Fapp.py",
        "/static/../app.py",
    ],
)
def test_no_file_path_comes_from_the_browser(books: dict[str, Any], path: str) -> None:
    response = _client(books).get(path.format(**books["ids"]))
    assert response.status_code == 404
    assert "root:" not in response.text and "import" not in response.text


def test_a_file_outside_the_workspace_is_not_read_for_words(books: dict[str, Any]) -> None:
    body = _client(books).get(f"/documents/{books['ids']['outside']}/words.json").json()
    assert body["pages"] == [] and "outside the workspace" in body["unavailable"]


# --- refusals ---------------------------------------------------------------------------------


def test_a_change_without_the_csrf_token_is_refused(books: dict[str, Any]) -> None:
    client = _client(books)
    doc_id = books["ids"]["mismatch"]
    good = _csrf(client)
    body = {"version": 1, "changes": {"total_amount": "119.00"}}
    assert client.post(f"/documents/{doc_id}/save", json=body).status_code == 403
    assert _post(client, doc_id, "save", body, "0" * 64).status_code == 403
    foreign = client.post(
        f"/documents/{doc_id}/save", json=body, headers={"X-CSRF-Token": good, "Origin": "http://evil.example"}
    )
    assert foreign.status_code == 403 and "another site" in foreign.json()["error"]
    other = _client(books)  # another browser: its own session, so the first one's token is no good
    other.get("/")
    assert _post(other, doc_id, "save", body, good).status_code == 403
    assert books["store"].get_by_id(doc_id).result.data["total_amount"] == "120.00"
    assert audit_trail(books["store"]) == []


def test_a_foreign_host_name_is_refused_on_loopback(books: dict[str, Any]) -> None:
    """DNS rebinding: a site whose name points at 127.0.0.1 must not read the screen."""
    client = _client(books)
    assert client.get("/", headers={"host": "evil.example:8765"}).status_code == 400
    assert client.get("/", headers={"host": "localhost:8765"}).status_code == 200


def test_a_token_protected_server_refuses_requests_without_it(books: dict[str, Any], tmp_path: Path) -> None:
    users = tmp_path / "users.toml"
    users.write_text('[users]\nbob = "bob-token-0123456789"\ncarol = "carol-token-0123456789"\n', encoding="utf-8")
    access = Access.build("0.0.0.0", "nobody", users_file=users)
    client = _client(books, access)
    refused = client.get("/")
    assert refused.status_code == 401 and "token" in refused.text and "Acme" not in refused.text
    assert client.get("/", headers={"Authorization": "Bearer wrong-token-0123456789"}).status_code == 401
    assert client.get(f"/documents/{books['ids']['es']}/pages/1.png").status_code == 401
    assert client.get("/", headers={"Authorization": "Bearer carol-token-0123456789"}).status_code == 200
    welcome = client.get("/?token=bob-token-0123456789&status=ok", follow_redirects=False)
    assert welcome.status_code == 303 and welcome.headers["location"] == "/?status=ok"  # the token leaves the URL
    assert "httponly" in welcome.headers["set-cookie"].lower()
    page = client.get("/")  # the cookie now
    assert page.status_code == 200 and "reviewing as <b>bob</b>" in page.text
    token = _csrf(client)
    doc_id = books["ids"]["mismatch"]
    saved = _post(client, doc_id, "save", {"version": 1, "changes": {"total_amount": "119,00"}}, token)
    assert saved.status_code == 200
    assert [r.user for r in audit_trail(books["store"])] == ["bob"]  # the token names the reviewer


def test_serving_beyond_loopback_needs_a_token(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--token"):
        Access.build("0.0.0.0", "me")
    with pytest.raises(ConfigError, match="at least 16"):
        Access.build("0.0.0.0", "me", token="short")
    assert Access.build("127.0.0.1", "me").reviewer_of(None) == "me"
    assert Access.build("::1", "me").loopback_only
    bad = tmp_path / "users.toml"
    bad.write_text('[users]\nann = "same-token-0123456789"\nben = "same-token-0123456789"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="same token"):
        read_users(bad)


# --- saving -----------------------------------------------------------------------------------


def test_check_works_corrections_out_without_storing_them(books: dict[str, Any]) -> None:
    client = _client(books)
    token = _csrf(client)
    doc_id = books["ids"]["mismatch"]
    body = _post(client, doc_id, "check", {"version": 1, "changes": {"total_amount": "119,00"}}, token).json()
    assert body["status"] == "ok" and body["issues"] == [] and body["values"] == {"total_amount": "119.00"}
    assert body["approvable"] is True
    bad = _post(client, doc_id, "check", {"version": 1, "changes": {"total_amount": "lots"}}, token).json()
    assert bad["rejected"][0]["field"] == "total_amount" and bad["approvable"] is False
    assert books["store"].get_by_id(doc_id).version == 1 and audit_trail(books["store"]) == []


def test_a_row_the_reviewer_adds_is_checked_with_the_rest(books: dict[str, Any]) -> None:
    """invoice_es.pdf has five line items; a sixth (a missed line) joins them and the sums are redone."""
    client = _client(books)
    doc_id = books["ids"]["es"]
    version = books["store"].get_by_id(doc_id).version
    row = {"line_items[5].description": "Cable", "line_items[5].quantity": "1", "line_items[5].amount": "10,00"}
    body = _post(client, doc_id, "check", {"version": version, "changes": row}, _csrf(client)).json()
    assert body["rejected"] == [] and body["values"]["line_items[5].amount"] == "10.00"
    assert "line_sum_mismatch" in [i["code"] for i in body["issues"]]  # the lines no longer add up to the net
    gap = _post(client, doc_id, "check", {"version": version, "changes": {"line_items[7].amount": "1"}}, _csrf(client))
    assert "not a field" in gap.json()["rejected"][0]["reason"]  # rows are added one after the other


def test_correct_and_approve_stores_audits_and_keeps_an_example(books: dict[str, Any]) -> None:
    client = _client(books)
    token = _csrf(client)
    doc_id = books["ids"]["mismatch"]
    body = {"version": 1, "changes": {"total_amount": "119,00"}, "approve": True}
    saved = _post(client, doc_id, "save", body, token)
    assert saved.status_code == 200 and saved.json()["approved"] is True and saved.json()["status"] == "ok"
    doc = books["store"].get_by_id(doc_id)
    assert doc.result.data["total_amount"] == "119.00" and doc.result.status is Status.OK and doc.version == 2
    assert set(doc.result.confidence.values()) == {1.0}
    rows = [(r.field, r.action, r.old_value, r.new_value, r.user, r.source) for r in audit_trail(books["store"])]
    assert rows == [
        ("total_amount", "corrected", "120.00", "119.00", "alice", "review screen"),
        ("status", "approved", "needs_review", "ok", "alice", "review screen"),
    ]
    label = json.loads((books["ws"].root / "examples" / "inv 9.pdf.json").read_text(encoding="utf-8"))
    assert label["fields"]["total_amount"] == "119.00" and label["reviewed_by"] == "alice"
    # The duplicate check ran for the vendor: the later copy of INV-9 from Acme is flagged.
    later = books["store"].get_by_id(books["ids"]["outside"])
    assert "duplicate_invoice" in [i.code for i in later.result.issues] and later.result.status is Status.NEEDS_REVIEW


def test_approving_with_nothing_changed_is_recorded(books: dict[str, Any]) -> None:
    """invoice_es.pdf needs review for a warning only (a low-confidence date): approval is the
    reviewer saying the values are right; it is audited, and the document becomes ok."""
    client = _client(books)
    doc_id = books["ids"]["es"]
    before = books["store"].get_by_id(doc_id)
    saved = _post(client, doc_id, "save", {"version": before.version, "approve": True}, _csrf(client))
    assert saved.status_code == 200 and saved.json() | {"examples": []} == {
        "saved": True, "approved": True, "status": "ok", "version": before.version + 1, "examples": []
    }  # fmt: skip
    after = books["store"].get_by_id(doc_id)
    assert after.result.issues == [] and after.result.data == before.result.data
    assert after.result.confidence["date"] == 1.0 and after.result.provenance["review"]["by"] == "alice"
    (row,) = audit_trail(books["store"])
    assert (row.field, row.action, row.old_value, row.new_value) == ("status", "approved", "needs_review", "ok")
    assert (books["ws"].root / "examples" / "invoice_es.pdf.json").is_file()


def test_an_approval_is_refused_while_an_error_remains(books: dict[str, Any]) -> None:
    client = _client(books)
    token = _csrf(client)
    doc_id = books["ids"]["mismatch"]
    refused = _post(client, doc_id, "save", {"version": 1, "approve": True}, token)
    assert refused.status_code == 422 and "not approved" in refused.json()["error"]
    assert "net + tax" in refused.json()["error"] or "total" in refused.json()["error"]
    assert books["store"].get_by_id(doc_id).version == 1 and audit_trail(books["store"]) == []
    accepted = _post(client, doc_id, "save", {"version": 1, "approve": True, "accept": ["total_amount"]}, token)
    assert accepted.status_code == 200 and accepted.json()["status"] == "ok"
    assert [r.action for r in audit_trail(books["store"])] == ["accepted", "approved"]


def test_a_possible_duplicate_is_not_approved_unseen(books: dict[str, Any]) -> None:
    """The later copy of INV-9 from Acme: approving it needs its duplicate finding accepted."""
    client = _client(books)
    token = _csrf(client)
    first = _post(client, books["ids"]["mismatch"], "save", {"version": 1, "changes": {"total_amount": "119"}}, token)
    assert first.status_code == 200  # the save runs the duplicate check for Acme: the later copy is flagged
    later = books["ids"]["outside"]
    refused = _post(client, later, "save", {"version": 1, "approve": True}, token)
    assert refused.status_code == 422 and "possible duplicate of document" in refused.json()["error"]
    body = {"version": 1, "approve": True, "accept": ["invoice_number"]}
    assert _post(client, later, "save", body, token).json()["approved"] is True


def test_a_value_that_does_not_read_stores_nothing(books: dict[str, Any]) -> None:
    client = _client(books)
    doc_id = books["ids"]["mismatch"]
    body = {"version": 1, "changes": {"total_amount": "119,00", "date": "the 3rd"}}
    refused = _post(client, doc_id, "save", body, _csrf(client))
    assert refused.status_code == 422 and [r["field"] for r in refused.json()["rejected"]] == ["date"]
    assert books["store"].get_by_id(doc_id).result.data["total_amount"] == "120.00"


def test_the_second_of_two_reviewers_gets_a_conflict_with_the_others_change(books: dict[str, Any]) -> None:
    first, second = _client(books, Access.build("127.0.0.1", "ann")), _client(books, Access.build("127.0.0.1", "ben"))
    doc_id = books["ids"]["mismatch"]
    seen = books["store"].get_by_id(doc_id).updated_at.isoformat()
    a = {"version": 1, "seen": seen, "changes": {"total_amount": "119.00"}}
    b = {"version": 1, "seen": seen, "changes": {"total_amount": "121.00", "net_amount": "102.00"}}
    assert _post(first, doc_id, "save", a, _csrf(first)).status_code == 200
    conflict = _post(second, doc_id, "save", b, _csrf(second))
    assert conflict.status_code == 409
    body = conflict.json()
    assert [(c["user"], c["field"], c["old"], c["new"]) for c in body["changes"]] == [
        ("ann", "total_amount", "120.00", "119.00")
    ]
    assert body["current"] == {"total_amount": "119.00", "net_amount": "100.00"} and body["version"] == 2
    doc = books["store"].get_by_id(doc_id)
    assert doc.result.data["total_amount"] == "119.00" and doc.result.data["net_amount"] == "100.00"
    assert [r.user for r in audit_trail(books["store"])] == ["ann"]


@pytest.mark.parametrize(
    "body",
    [
        {"changes": {"total_amount": "1"}},  # no version
        {"version": 1, "changes": {"../etc": "1"}},
        {"version": 1, "changes": {"total_amount": 5}},
        {"version": 1, "changes": {"total_amount": "9" * 3000}},
        {"version": 1, "accept": "total_amount"},
        ["not", "an", "object"],
    ],
)
def test_a_malformed_request_is_refused(books: dict[str, Any], body: Any) -> None:
    client = _client(books)
    response = _post(client, books["ids"]["mismatch"], "save", body, _csrf(client))
    assert response.status_code == 400 and response.json()["error"]
