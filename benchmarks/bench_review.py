"""`make bench-review`: the review screen's queue and document page on a store of 10,000 documents.

Fills a fresh workspace's store (SQLite by default, `--url` for another) with synthetic results
shaped like the pipeline's (invoices with line items and per-field evidence, receipts, bank
statements; 20 % needs_review, 5 % failed; 60 vendors; two years of dates; a mix of issue codes),
written through the store's own mapper, so the queue columns and issue codes are derived as in
production (PostgreSQL then gets the VACUUM ANALYZE that autovacuum gives a store in use). Then
times, through the real web app in-process (Starlette's test client: routing, the Guard
middleware, the store queries and the Jinja2 templates; no network):

- the queue's first page, filtered pages (type + status, vendor, issue code, period), a deep page;
- a document page (fields, tables, boxes);
- a save of one correction (`apply_corrections` and the duplicate check over the store, as `review
  import` does).

    python benchmarks/bench_review.py [--docs 10000] [--repeat 20] [--url URL] [--out build/bench-review.json]

Medians and 95th percentiles in milliseconds; the machine's load average is recorded beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
VENDORS = [f"Vendor {chr(65 + i % 26)}{i} GmbH" for i in range(60)]
CODES = ["totals_mismatch", "low_confidence", "missing_field", "line_sum_mismatch", "vat_id_invalid"]


def synthetic(n: int, rng: random.Random) -> dict[str, Any]:
    """One stored row's values, as the pipeline would write them."""
    kind = rng.choices(["invoice", "receipt", "bank_statement"], [70, 25, 5])[0]
    status = rng.choices(["ok", "needs_review", "failed"], [75, 20, 5])[0]
    day = datetime(2025, 1, 1) + timedelta(days=rng.randrange(700))
    lines = [
        {"description": f"Item {i} of order {n}", "quantity": "2", "unit_price": f"{rng.randrange(1, 500)}.00",
         "amount": f"{rng.randrange(2, 1000)}.00"}
        for i in range(rng.randrange(1, 15))
    ]  # fmt: skip
    data: dict[str, Any] = {
        "invoice_number": f"INV-{n}", "date": day.date().isoformat(), "vendor_name": rng.choice(VENDORS),
        "currency": "EUR", "net_amount": "100.00", "tax_amount": "19.00", "total_amount": "119.00",
        "line_items": lines,
    }  # fmt: skip
    issues = [
        {"stage": "validate", "code": c, "severity": "error", "message": f"{c} here", "page": None,
         "field": "total_amount"}
        for c in rng.sample(CODES, rng.randrange(1, 3))
    ] if status == "needs_review" else []  # fmt: skip
    if status == "failed":
        data, issues = {}, [{"stage": "load", "code": "corrupt_pdf", "severity": "fatal", "message": "damaged",
                             "page": None, "field": None}]  # fmt: skip
    fields = {
        k: {"confidence": 0.9, "page": 1, "bbox": [400.0, 600.0 + i, 520.0, 612.0 + i], "source": "label", "text": v}
        for i, (k, v) in enumerate(data.items())
        if isinstance(v, str)
    }
    provenance = {
        "engine": {"engine": "ocr"},
        "pages": [{"page": 1, "text_source": "text_layer", "words": 120, "width": 595.28, "height": 841.89}],
        "fields": fields,
        "schema": {"doc_type": kind, "version": "1.0.0"},
    }
    return {
        "sha256": f"{n:064x}", "source_name": f"doc-{n:05d}.pdf", "source_path": f"done/doc-{n:05d}.pdf",
        "media_type": "application/pdf", "page_count": 1, "doc_type": kind, "status": status, "data": data,
        "issues": issues, "confidence": {k: 0.9 for k in data}, "provenance": provenance, "timings": {},
        "attempts": 1, "version": 1,
        "created_at": datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=n),
        "updated_at": datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=n),
    }  # fmt: skip


def fill(store: Any, n: int, seed: int = 0) -> float:
    from ledgerlens.pipeline.books.store import DocumentRow

    rng = random.Random(seed)
    started = time.perf_counter()
    for first in range(1, n + 1, 1000):
        with store.session() as s:  # the mapper's events derive the queue columns and issue codes
            s.add_all(DocumentRow(**synthetic(i, rng)) for i in range(first, min(first + 1000, n + 1)))
    return time.perf_counter() - started


def timed(call: Any, repeat: int) -> dict[str, float]:
    call()  # warm: caches, the first compile of each query
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {
        "median_ms": round(statistics.median(times), 1),
        "p95_ms": round(times[max(0, round(0.95 * len(times)) - 1)], 1),
        "max_ms": round(times[-1], 1),
    }


def run(docs: int, repeat: int, url: str | None) -> dict[str, Any]:
    from ledgerlens.pipeline.books.store import Store
    from ledgerlens.pipeline.config import Config
    from ledgerlens.pipeline.intake.workspace import init_workspace
    from sqlalchemy import text
    from starlette.testclient import TestClient

    from ledgerlens.web.app import create_app
    from ledgerlens.web.security import Access

    ws = init_workspace(Path(tempfile.mkdtemp(prefix="bench-review-")) / "books")
    store = Store(url) if url else Store.for_workspace(ws.root)
    filled = fill(store, docs)
    if store.engine.dialect.name == "postgresql":  # statistics, as autovacuum keeps them on a store in use
        with store.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
    client = TestClient(create_app(ws, Config(), Access.build("127.0.0.1", "bench"), store=store),
                        base_url="http://127.0.0.1:8765")  # fmt: skip

    def get(path: str) -> Any:
        def call() -> None:
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code, response.text[:300])

        return call

    first = client.get("/").text
    vendor = re.search(r'<datalist id="vendors"><option value="([^"]+)"', first)
    doc_id = re.search(r'data-id="(\d+)"', first)
    assert vendor and doc_id
    token = re.search(r'<meta name="csrf-token" content="([0-9a-f]+)">', first)[1]  # type: ignore[index]
    results = {
        "queue, first page": timed(get("/"), repeat),
        "queue, invoices needing review": timed(get("/?type=invoice&status=needs_review"), repeat),
        "queue, one vendor": timed(get(f"/?vendor={vendor[1].replace(' ', '+')}"), repeat),
        "queue, one issue code": timed(get("/?issue=vat_id_invalid"), repeat),
        "queue, one month": timed(get("/?period=2025-06"), repeat),
        "queue, page 150": timed(get("/?page=150"), repeat),
        "document page": timed(get(f"/documents/{doc_id[1]}"), repeat),
    }
    ok = [d for d in re.findall(r'<tr class="status-ok" data-id="(\d+)"', client.get("/?status=ok&type=invoice").text)]
    edits = iter(ok * repeat)

    def save() -> None:
        target = next(edits)
        version = store.get_by_id(int(target)).version
        body = {"version": version, "changes": {"invoice_number": f"B-{time.perf_counter_ns()}"}}
        response = client.post(f"/documents/{target}/save", json=body, headers={"X-CSRF-Token": token})
        assert response.status_code == 200, response.text

    results["save one correction"] = timed(save, min(repeat, 10))
    store.close()
    return {
        "documents": docs,
        "store": store.engine.dialect.name,
        "fill_s": round(filled, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "results": results,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--url", help="a store URL (default: SQLite in a temporary workspace)")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bench-review.json")
    args = parser.parse_args()
    report = run(args.docs, args.repeat, args.url)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"{report['documents']:,} documents in {report['store']} (filled in {report['fill_s']} s); "
          f"load average {report['load_average']}")  # fmt: skip
    for name, t in report["results"].items():
        print(f"  {name:34s} median {t['median_ms']:7.1f} ms   p95 {t['p95_ms']:7.1f} ms   max {t['max_ms']:7.1f} ms")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
