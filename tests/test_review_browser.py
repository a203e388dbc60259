"""The review screen in a real browser: Debian's headless Chromium driven by Playwright, against
`ledgerlens review serve` started the way a user starts it, on generated sample documents
processed by the pipeline. A reviewer opens the queue, opens the invoice that needs review, sees
the total's box over the total printed on the page, corrects the total (by clicking the printed
word) and approves; the store, the audit trail and the labelled example show it. Also: a vendor
name that is markup stays text, two reviewers of one document, a server that needs a token.
Screenshots go to build/test-artifacts/.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from ledgerlens.pipeline.books.audit import audit_trail
from ledgerlens.pipeline.books.store import Store
from ledgerlens.pipeline.chain import process_file
from ledgerlens.pipeline.check.validate import validate
from ledgerlens.pipeline.intake.workspace import init_workspace
from ledgerlens.pipeline.types import Status, status_of

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[1] / "build" / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
XSS = "<img src=x onerror=alert(1)>"
TOKEN = "review-token-0123456789abcdef"
START_LIMIT_S = 10.0  # the issue asks for < 3 s; a busy CI machine gets some slack (README has the figure)


@contextmanager
def serving(root: Path, *extra: str) -> Iterator[tuple[str, float]]:
    """`ledgerlens review serve ROOT --port 0`: yields the printed address and the seconds it took."""
    start = time.monotonic()
    cmd = [sys.executable, "-m", "ledgerlens.cli", "review", "serve", str(root), "--port", "0", "--user", "rita"]
    proc = subprocess.Popen([*cmd, *extra], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        while not any("http://" in line for line in lines):
            assert proc.poll() is None, "".join(lines)
            assert time.monotonic() - start < 60, "the review screen did not start: " + "".join(lines)
            time.sleep(0.02)
        took = time.monotonic() - start
        url = re.search(r"(http://\S+?)/(\?token=\S+)?$", next(ln for ln in lines if "http://" in ln).strip())
        assert url, lines
        yield url[1], took
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _misread_total(result: Any, schema: Any) -> None:
    """As if OCR had read 1.342,22 as 1.842,22: the stored total, its evidence text and the checks."""
    result.data["total_amount"] = "1842.22"
    result.provenance["fields"]["total_amount"]["text"] = "1.842,22 €"
    result.issues = [i for i in result.issues if i.stage != "validate"] + validate(result.data, "invoice", schema)
    result.status = status_of(result.issues)


@pytest.fixture(scope="module")
def books(samples: Path, context: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    ws = init_workspace(tmp_path_factory.mktemp("review") / "books")
    store = Store.for_workspace(ws.root)
    ids = {}
    for key, name in [("cafe", "receipt_gb_cafe.pdf"), ("xss", "invoice_en_gb.pdf"), ("es", "invoice_es.pdf")]:
        shutil.copy(samples / name, ws.done / name)
        result = process_file(ws.done / name, context)
        result.source_path = f"done/{name}"
        if key == "es":
            _misread_total(result, context.schemas["invoice"])
            assert result.status is Status.NEEDS_REVIEW and "totals_mismatch" in [i.code for i in result.issues]
        if key == "xss":
            result.data["vendor_name"] = XSS
        ids[key] = store.save(result)
    with serving(ws.root) as (url, took):
        yield {"ws": ws, "store": store, "ids": ids, "url": url, "started_s": took, "pdf": samples / "invoice_es.pdf"}
    store.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: `make apt-test` installs Debian's chromium package")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1500, "height": 950})
    tab = context.new_page()
    tab.set_default_timeout(30_000)
    errors: list[str] = []
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    yield tab
    context.close()
    assert errors == [], errors  # no script error, no CSP violation, no failed request


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name))


def _printed_words(pdf: Path, text: str) -> tuple[tuple[float, float], list[tuple[float, float, float, float]]]:
    """Page size and boxes (points) of `text` as poppler's pdftotext reads the PDF: the truth the
    screen's box is held to, found without ledgerlens."""
    out = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    size = re.search(r'<page width="([\d.]+)" height="([\d.]+)"', out)
    assert size
    boxes = [
        tuple(float(v) for v in m.groups())
        for m in re.finditer(r'xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">' + re.escape(text), out)
    ]
    return (float(size[1]), float(size[2])), boxes  # type: ignore[return-value]


def _holds(box: dict[str, float], x: float, y: float) -> bool:
    return box["x"] <= x <= box["x"] + box["width"] and box["y"] <= y <= box["y"] + box["height"]


def _open_document(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("#doc[data-ready='yes']")
    page.wait_for_selector("#doc[data-words='ready']")


def test_the_screen_starts_quickly(books: dict[str, Any]) -> None:
    assert books["started_s"] < START_LIMIT_S, f"started in {books['started_s']:.2f} s"


def test_correct_the_misread_total_and_approve(books: dict[str, Any], page: Any) -> None:
    page.goto(books["url"] + "/")
    first = page.locator("table.queue-table tbody tr").first
    assert first.get_attribute("data-id") == str(books["ids"]["es"])  # needs review: first in the queue
    assert page.locator(".tabs a[data-status='needs_review'] .count").inner_text() == "1"
    _shot(page, "review-queue.png")
    first.locator("a").click()
    page.wait_for_url(f"**/documents/{books['ids']['es']}*")
    page.wait_for_selector("#doc[data-words='ready']")

    # The total's box sits over the total's words on the page image.
    (width, height), printed = _printed_words(books["pdf"], "1.342,22")
    image = page.locator(".page[data-page='1'] img").bounding_box()
    box = page.locator(".box[data-field='total_amount']").bounding_box()
    scale_x, scale_y = image["width"] / width, image["height"] / height
    on_screen = [
        (image["x"] + x0 * scale_x, image["y"] + y0 * scale_y, image["x"] + x1 * scale_x, image["y"] + y1 * scale_y)
        for x0, y0, x1, y1 in printed
    ]
    inside = [w for w in on_screen if _holds(box, (w[0] + w[2]) / 2, (w[1] + w[3]) / 2)]
    assert len(inside) == 1, (box, on_screen)
    word = inside[0]
    assert box["width"] < 3 * (word[2] - word[0]) and box["height"] < 3 * (word[3] - word[1])  # around it, not the page

    # Focusing the field highlights its box; the field shows the misread value and why it is flagged.
    total = page.locator("[data-name='total_amount']")
    total.click()
    page.wait_for_selector(".box.active[data-field='total_amount']")
    assert total.input_value() == "1842.22"
    assert page.locator(".field[data-for='total_amount'] li.issue[data-code='totals_mismatch']").count() == 1
    _shot(page, "review-document.png")

    # Clicking the printed total on the page puts its text into the focused field; the checks run again.
    target = page.locator(".word[data-text='1.342,22']").nth(1)
    target.click()
    assert total.input_value() == "1.342,22"
    page.wait_for_selector(".field[data-for='total_amount'] li.issue.resolved[data-code='totals_mismatch']")
    page.keyboard.press("Alt+ArrowDown")  # the next field
    assert page.evaluate("document.activeElement.dataset.name") == "prepaid_amount"
    _shot(page, "review-corrected.png")

    page.locator("#approve").click()
    page.wait_for_url(lambda u: f"/documents/{books['ids']['es']}" not in u)

    store: Store = books["store"]
    doc = store.get_by_id(books["ids"]["es"])
    assert doc.result.data["total_amount"] == "1342.22" and doc.result.status is Status.OK
    rows = [(r.field, r.action, r.old_value, r.new_value, r.user) for r in audit_trail(store, doc.result.sha256)]
    assert rows == [
        ("total_amount", "corrected", "1842.22", "1342.22", "rita"),
        ("status", "approved", "needs_review", "ok", "rita"),
    ]
    label = books["ws"].root / "examples" / "invoice_es.pdf.json"
    assert '"total_amount": "1342.22"' in label.read_text(encoding="utf-8")
    assert (books["ws"].root / "examples" / "invoice_es.pdf").read_bytes() == books["pdf"].read_bytes()


def test_a_vendor_name_that_is_markup_shows_as_text(books: dict[str, Any], page: Any) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    _open_document(page, f"{books['url']}/documents/{books['ids']['xss']}")
    assert page.locator("[data-name='vendor_name']").input_value() == XSS
    assert page.locator("img[src='x']").count() == 0
    page.goto(books["url"] + "/?type=invoice")
    assert XSS in page.locator("table.queue-table").inner_text()
    _shot(page, "review-xss.png")
    assert dialogs == []


def test_the_second_of_two_reviewers_sees_the_first_ones_change(books: dict[str, Any], browser: Any) -> None:
    url = f"{books['url']}/documents/{books['ids']['cafe']}"
    tabs = []
    for _ in range(2):  # two browsers: two sessions
        context = browser.new_context(viewport={"width": 1500, "height": 950})
        tab = context.new_page()
        _open_document(tab, url)
        tabs.append(tab)
    first, second = tabs
    first.fill("[data-name='vendor_name']", "Cafe Uno")
    first.locator("#save").click()
    first.wait_for_load_state()
    first.wait_for_selector("#doc[data-ready='yes']")
    assert first.locator("[data-name='vendor_name']").input_value() == "Cafe Uno"
    second.fill("[data-name='vendor_name']", "Cafe Due")
    second.locator("#save").click()
    second.wait_for_selector("#message.conflict")
    text = second.locator("#message").inner_text()
    assert "changed by someone else" in text and "vendor_name" in text and "Cafe Uno" in text and "rita" in text
    _shot(second, "review-conflict.png")
    assert books["store"].get_by_id(books["ids"]["cafe"]).result.data["vendor_name"] == "Cafe Uno"
    for tab in tabs:
        tab.context.close()


def test_a_token_protected_server_refuses_a_request_without_the_token(books: dict[str, Any], browser: Any) -> None:
    page = browser.new_context().new_page()  # its own: the refused request logs an error on purpose
    with serving(books["ws"].root, "--token", TOKEN) as (url, _):
        response = page.goto(url + "/")
        assert response.status == 401 and "needs its token" in page.inner_text("body")
        assert page.locator("table.queue-table").count() == 0
        page.goto(f"{url}/?token={TOKEN}")
        assert "token" not in page.url  # kept in a cookie, not in the address bar
        page.wait_for_selector("table.queue-table")
        assert page.locator("table.queue-table tbody tr").count() == 3
    page.context.close()
