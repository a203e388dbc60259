"""Duplicate invoices across the store: the check that needs more than one document.

Two invoices are the same bill when their vendors match once normalized (`vendor_key`) and either
their invoice numbers match (case, spaces and a leading '#' aside) or their dates and totals do.
The later one (higher id) gets an error naming the earlier one; credit notes are compared with
credit notes only. `duplicate_issues` is pure; `flag_duplicates` brings the stored results in line
with it (adding and removing this issue, recomputing the status) and writes only what changed.
It runs before every export and review import; a processing step with the store at hand can run
`duplicate_issues` at record time the same way.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

from ledgerlens.pipeline.books.findings import update_findings
from ledgerlens.pipeline.books.store import Store, StoredDocument
from ledgerlens.pipeline.doctypes.schemas import DocumentSchema, packaged_schemas
from ledgerlens.pipeline.normalize import vendor_key
from ledgerlens.pipeline.types import Issue, Severity, Status

STAGE = "validate"
CODE = "duplicate_invoice"


def _ref(value: Any) -> str:
    return re.sub(r"\s", "", str(value or "")).upper().lstrip("#")


def checked_numbers(schemas: dict[str, DocumentSchema] | None = None) -> dict[str, str]:
    """Document type -> the number field its card has the duplicate check compare (default: the
    packaged types)."""
    types = packaged_schemas() if schemas is None else schemas
    return {t: s.card.duplicate_number for t, s in types.items() if s.card.duplicate_number}


def _keys(doc: StoredDocument, numbers: dict[str, str]) -> tuple[tuple[Any, ...], tuple[Any, ...]] | None:
    r = doc.result
    number_field = numbers.get(r.doc_type)
    if number_field is None or r.status is Status.FAILED:
        return None
    vendor = vendor_key(r.data.get("vendor_name") or "")
    if not vendor:
        return None
    kind = (r.doc_type, r.data.get("document_subtype") or "")
    by_number = (vendor, kind, _ref(r.data.get(number_field))) if r.data.get(number_field) else ()
    by_amount = (vendor, kind, r.data.get("date"), r.data.get("total_amount"))
    return by_number, by_amount if None not in by_amount else ()


def duplicate_issues(docs: list[StoredDocument], numbers: dict[str, str] | None = None) -> dict[int, list[Issue]]:
    """Document id -> its duplicate issue(s), for every document that repeats an earlier one of its
    type (the types whose card names a number to compare)."""
    numbers = checked_numbers() if numbers is None else numbers
    seen_number: dict[tuple[Any, ...], StoredDocument] = {}
    seen_amount: dict[tuple[Any, ...], StoredDocument] = {}
    out: dict[int, list[Issue]] = {}
    for doc in sorted(docs, key=lambda d: d.id):
        keys = _keys(doc, numbers)
        if keys is None:
            continue
        by_number, by_amount = keys
        first = seen_number.get(by_number) if by_number else None
        number_field = numbers[doc.result.doc_type]
        how = f"the same {number_field.replace('_', ' ')} {doc.result.data.get(number_field)}"
        if first is None and by_amount:
            first = seen_amount.get(by_amount)
            how = f"the same date {by_amount[2]} and total {by_amount[3]}"
        if first is not None:
            message = (
                f"possible duplicate of document {first.id} ({first.result.source_name}): same vendor and {how}; "
                "booking both would pay the bill twice"
            )
            out[doc.id] = [Issue(STAGE, CODE, Severity.ERROR, message, field=number_field)]
        if by_number:
            seen_number.setdefault(by_number, doc)
        if by_amount:
            seen_amount.setdefault(by_amount, doc)
    return out


def flag_duplicates(
    store: Store, numbers: dict[str, str] | None = None, vendors: Collection[str | None] | None = None
) -> int:
    """Bring every stored document's duplicate issue up to date; returns how many rows changed.

    `numbers`: the number field per document type (`checked_numbers`; default the packaged types).
    `vendors` (names as printed): only the documents of these vendors, which are all a change to
    one document can affect (duplicates share a vendor); what the review screen does after a save."""
    keys = None if vendors is None else {vendor_key(v or "") for v in vendors} - {""}
    if keys is not None and not keys:
        return 0
    docs = store.all(vendor_keys=keys)
    return update_findings(store, docs, {CODE}, duplicate_issues(docs, numbers))
