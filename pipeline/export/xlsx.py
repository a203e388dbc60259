"""The Excel workbook accountants review: one sheet per table, then a Review sheet.

Sheets, in order: Invoices, Line items, Receipts, Statements, Transactions (see `columns.py`)
and Review: one row per issue, per low-confidence field without an issue, per failed document,
per row the workspace's import target (accounts.toml [chart] target) would refuse, with two
empty columns for the accountant. Amounts are numeric cells holding the exact decimal,
dates are date cells, text is escaped and always stored as a string, so no cell is ever a formula.
The file is a pure function of its input: same documents, same bytes.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import quote
from zipfile import ZIP_DEFLATED, ZipFile, ZipInfo

from ledgerlens.pipeline.books.payments import MatchRow
from ledgerlens.pipeline.books.review import REVIEW_CHOICES
from ledgerlens.pipeline.books.store import StoredDocument
from ledgerlens.pipeline.check.einvoice.view import view_path
from ledgerlens.pipeline.config import ReviewConfig
from ledgerlens.pipeline.errors import ConfigError
from ledgerlens.pipeline.export.accounts import AccountMap
from ledgerlens.pipeline.export.bank.categorize import review_findings
from ledgerlens.pipeline.export.bank.reconciliation import reconciliation_tables, review_suggestions
from ledgerlens.pipeline.export.columns import (
    Column,
    Layout,
    Row,
    Table,
    Value,
    build_table,
    kind_at,
    load_layout,
    on_data_sheet,
    typed,
    value_at,
)
from ledgerlens.pipeline.export.registry import FORMATS
from ledgerlens.pipeline.export.safe import escape_text
from ledgerlens.pipeline.normalize import vendor_key
from ledgerlens.pipeline.types import Status
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.writer.excel import ExcelWriter

if TYPE_CHECKING:
    from ledgerlens.pipeline.export.registry import ExportRequest
    from ledgerlens.pipeline.export.rules import Refusal

REVIEW_COLUMNS = (
    Column("id", "int"),
    *(Column(n) for n in ("source_file", "doc_type", "status", "field", "extracted_value")),
    *(Column(n) for n in ("severity", "code", "reason")),
    Column("confidence", "score"),
    Column("page", "int"),
    Column("corrected_value"),  # left empty for the accountant
    Column("review_status"),  # left empty; a drop-down of REVIEW_CHOICES
)
LOW_FILL = PatternFill("solid", fgColor="FFFFEB9C")
HEADER_FONT = Font(bold=True)
LINK_FONT = Font(color="FF0563C1", underline="single")
DATE_FORMAT = "yyyy-mm-dd"
# Excel keeps 15 significant digits; a longer number is written as text rather than rounded.
MAX_DIGITS = 15
MIN_WIDTH, MAX_WIDTH = 8, 60
_EPOCH = datetime(2000, 1, 1)
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def export_xlsx(
    docs: list[StoredDocument],
    path: Path,
    *,
    workspace_root: Path | None = None,
    review_confidence: float = 0.5,
    accounts: AccountMap | None = None,
    review: ReviewConfig | None = None,
    refusals: list[Refusal] | None = None,
    matches: tuple[MatchRow, ...] = (),
) -> Path:
    """Write the review workbook for `docs` (rows in the order given) to `path`; returns `path`.

    With `accounts`, invoices and receipts whose vendor has no account get a Review row too
    (their expenses go to the suspense account in the accounting exports); with `refusals`, each
    row an import target would refuse gets one (code `refused_by_<target>`). With `review`, each
    Review row's id links to the document in the review screen (`ledgerlens review serve`)."""
    if not 0.0 <= review_confidence <= 1.0:
        raise ConfigError(f"review_confidence must be between 0 and 1, got {review_confidence}")
    layout = load_layout(workspace_root)
    tables = [build_table(spec, docs, layout, review_confidence) for spec in layout.tables]
    if accounts is not None:  # Reconciliation and Open invoices, from what `reconcile` kept
        tables += reconciliation_tables(docs, list(matches), accounts)
    tables.append(review_table(docs, layout, review_confidence, accounts, refusals, matches))
    wb = Workbook()
    wb.remove(wb.active)
    book_dir = path.parent

    def link_of(doc: StoredDocument) -> str | None:
        # An XML e-invoice links to its readable page kept beside it, not to the raw XML.
        readable = view_path(doc.result.source_path, doc.result.provenance) or doc.result.source_path
        return link_target(readable, book_dir, workspace_root)

    for table in tables:
        _write_table(wb.create_sheet(table.title), table, link_of)
    _finish_review(wb["Review"], len(tables[-1].rows), review_confidence)
    if review is not None:
        _link_review(wb["Review"], tables[-1], review)
    stamp = _stamp(docs)
    wb.properties.creator = "ledgerlens"
    wb.properties.created = wb.properties.modified = stamp
    _save(wb, path)
    return path


# --- Review rows -----------------------------------------------------------------------------


def review_table(
    docs: list[StoredDocument],
    layout: Layout,
    threshold: float,
    accounts: AccountMap | None = None,
    refusals: list[Refusal] | None = None,
    matches: tuple[MatchRow, ...] = (),
) -> Table:
    refused: dict[int, list[Finding]] = {}
    for r in refusals or []:
        if r.doc_id is not None:
            reason = f"{r.target} would refuse {r.file} line {r.line}: {r.reason} [{r.rule}]"
            refused.setdefault(r.doc_id, []).append(Finding(r.field, "error", f"refused_by_{r.target}", reason))
    rows: list[Row] = []
    bank = review_findings(docs, accounts) if accounts is not None else {}  # bank lines booked to suspense
    doubtful = review_suggestions(docs, list(matches))  # payments the reconciliation was unsure of
    for doc in docs:
        extra = [Finding(*f) for f in bank.get(doc.id, []) + doubtful.get(doc.id, [])]
        rows += _review_rows(doc, layout, threshold, accounts, refused.get(doc.id, []), extra)
    return Table("Review", list(REVIEW_COLUMNS), rows)


class Finding(NamedTuple):
    field: str | None
    severity: str
    code: str
    reason: str
    page: int | None = None


def _review_rows(
    doc: StoredDocument,
    layout: Layout,
    threshold: float,
    accounts: AccountMap | None = None,
    refused: list[Finding] | None = None,
    extra: list[Finding] | None = None,
) -> list[Row]:
    r = doc.result
    kinds = layout.kinds.get(r.doc_type, {})
    found = [Finding(i.field, str(i.severity), i.code, i.message, i.page) for i in r.issues] + (extra or [])
    flagged = {i.field for i in r.issues if i.field}
    for field, conf in r.confidence.items():
        if field not in flagged and isinstance(conf, int | float) and conf < threshold:
            reason = f"confidence {conf:.2f} is below {threshold:.2f}"
            found.append(Finding(field, "warning", "low_confidence", reason))
    vendor = r.data.get("vendor_name")
    bookable = bool(layout.books.get(r.doc_type)) and r.status is not Status.FAILED
    if accounts is not None and bookable and accounts.vendor(vendor) is None:
        reason = (
            f"vendor {vendor_key(vendor or '') or '(none)'!r} has no account in accounts.toml: "
            f"booked to suspense account {accounts.suspense}"
        )
        found.append(Finding("vendor_name", "warning", "unmapped_vendor", reason))
    found += refused or []
    if r.status is Status.FAILED and r.failure_reason is None:
        found.append(Finding(None, "fatal", "failed", "the document failed; no reason was recorded"))
    if not found and not on_data_sheet(doc, layout):  # every document shows up somewhere
        found.append(Finding(None, "warning", "not_exported", f"no sheet for document type {r.doc_type!r}"))
    return [_review_row(doc, kinds, threshold, f) for f in found]


def _review_row(doc: StoredDocument, kinds: dict[str, str], threshold: float, f: Finding) -> Row:
    r = doc.result
    conf = r.confidence.get(f.field) if f.field else None
    low = isinstance(conf, int | float) and conf < threshold
    extracted = Value(None)
    if f.field:
        extracted = typed(kind_at(kinds, f.field), value_at(r.data, f.field), key=f.field, low=low)
    texts = [r.source_name, r.doc_type, str(r.status), f.field]
    return Row(
        doc,
        [
            Value(doc.id, "int"),
            *(Value(t) for t in texts),
            extracted,
            *(Value(t) for t in (f.severity, f.code, f.reason)),
            typed("score", conf, low=low),
            typed("int", f.page),
            Value(None),  # corrected_value
            Value(None),  # review_status
        ],
    )


# --- cells and sheets ------------------------------------------------------------------------


def _write_table(ws: Worksheet, table: Table, link_of: Callable[[StoredDocument], str | None]) -> None:
    widths = [0] * len(table.columns)
    for j, col in enumerate(table.columns, 1):
        widths[j - 1] = _put(ws.cell(1, j), Value(col.name))
        ws.cell(1, j).font = HEADER_FONT
    source = [c.name for c in table.columns].index("source_file") + 1
    for i, row in enumerate(table.rows, 2):
        for j, value in enumerate(row.values, 1):
            widths[j - 1] = max(widths[j - 1], _put(ws.cell(i, j), value))
        target = link_of(row.doc)
        if target:
            ws.cell(i, source).hyperlink = target
            ws.cell(i, source).font = LINK_FONT
    ws.freeze_panes = "C2"  # header row, plus id and source file while scrolling right
    ws.auto_filter.ref = f"A1:{get_column_letter(len(table.columns))}{len(table.rows) + 1}"
    for j, width in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(j)].width = min(max(width + 2, MIN_WIDTH), MAX_WIDTH)


def _put(cell: Cell, v: Value) -> int:
    """Write one typed value; returns its display width in characters."""
    data: Any = v.data
    if isinstance(data, Decimal) and len(data.as_tuple().digits) > MAX_DIGITS:
        data = format(data, "f")
    if v.low:
        cell.fill = LOW_FILL
    if data is None:
        return 0
    if isinstance(data, Decimal):
        # openpyxl would write Decimal("0.07") as 0.07000000000000001 ("%.16g" of a float):
        # the plain decimal text with numeric type puts the exact number in the XML.
        cell.value = format(data, "f")
        cell.data_type = "n"
        scale = max(0, -int(data.as_tuple().exponent))
        cell.number_format = _decimal_format(v.kind, scale)
        return len(f"{data:,.{scale}f}")
    if isinstance(data, date):
        cell.value = data
        cell.number_format = DATE_FORMAT
        return len(DATE_FORMAT)
    if isinstance(data, int | float):
        cell.value = data
        if v.kind == "score":
            cell.number_format = "0.00"
        return len(f"{data:.2f}" if v.kind == "score" else str(data))
    text = _sheet_text(str(data))
    cell.value = text
    cell.data_type = "s"  # never a formula ("=..."), never an error code ("#N/A")
    return max((len(line) for line in text.splitlines()), default=0)


def _sheet_text(text: str) -> str:
    """Escaped text a worksheet can hold: control characters XML forbids become U+FFFD, and a CR
    becomes LF, as any XML reader (Excel too) would turn it on reading; escape first, on the original."""
    text = escape_text(ILLEGAL_CHARACTERS_RE.sub("\ufffd", text))
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _decimal_format(kind: str, scale: int) -> str:
    """Amounts show cents (more when the document has more); other numbers show their own digits.

    `#,##0.####` is avoided on purpose: Excel shows a whole number in it with a trailing dot ("10.").
    """
    if kind == "amount":
        return "#,##0." + "0" * max(2, scale)
    return "#,##0" + ("." + "0" * scale if scale else "")


def _finish_review(ws: Worksheet, n_rows: int, threshold: float) -> None:
    names = [c.name for c in REVIEW_COLUMNS]
    corrected = get_column_letter(names.index("corrected_value") + 1)
    status = get_column_letter(names.index("review_status") + 1)
    if n_rows:
        # Text format: what the accountant types stays as typed (no dates from "1-2", no formulas).
        for i in range(2, n_rows + 2):
            ws[f"{corrected}{i}"].number_format = "@"
        choices = DataValidation(type="list", formula1='"' + ",".join(REVIEW_CHOICES) + '"', allow_blank=True)
        choices.add(f"{status}2:{status}{n_rows + 1}")
        ws.add_data_validation(choices)
    legend = len(names) + 2
    _put(ws.cell(1, legend), Value("Legend"))
    ws.cell(1, legend).font = HEADER_FONT
    _put(ws.cell(2, legend), Value(f"field confidence below {threshold:.2f}", low=True))
    ws.column_dimensions[get_column_letter(legend)].width = 32


# --- links, properties, bytes ----------------------------------------------------------------


def _link_review(ws: Worksheet, table: Table, review: ReviewConfig) -> None:
    """The id of each Review row opens its document in the review screen (page image, boxes, form)."""
    column = [c.name for c in table.columns].index("id") + 1
    for i, row in enumerate(table.rows, 2):
        cell = ws.cell(i, column)
        cell.hyperlink = review.document_url(row.doc.id)
        cell.font = LINK_FONT


def link_target(source_path: str | None, book_dir: Path, workspace_root: Path | None) -> str | None:
    """A relative link when the file and the workbook share the workspace, else a file URI."""
    if not source_path:
        return None
    src = Path(source_path)
    if not src.is_absolute():
        if workspace_root is None:
            return None  # relative to what? no link rather than a wrong one
        src = workspace_root / src
    src = src.resolve()
    if workspace_root is not None:
        root = workspace_root.resolve()
        if src.is_relative_to(root) and book_dir.resolve().is_relative_to(root):
            return quote(Path(os.path.relpath(src, book_dir.resolve())).as_posix())
    return src.as_uri()


def _stamp(docs: list[StoredDocument]) -> datetime:
    """The latest update among `docs` (naive UTC, as Excel wants), not the time of export."""
    times = [d.updated_at if d.updated_at.tzinfo is None else d.updated_at.astimezone(UTC) for d in docs]
    return max((t.replace(tzinfo=None, microsecond=0) for t in times), default=_EPOCH)


class _StableZip(ZipFile):
    """A zip whose entries carry a fixed time, so the same workbook gives the same bytes."""

    def writestr(self, zinfo_or_arcname: Any, data: Any, *args: Any, **kwargs: Any) -> None:
        if isinstance(zinfo_or_arcname, str):
            info = ZipInfo(zinfo_or_arcname, date_time=_ZIP_TIME)
            info.compress_type = self.compression
            info.external_attr = 0o600 << 16
            zinfo_or_arcname = info
        super().writestr(zinfo_or_arcname, data, *args, **kwargs)

    def write(self, filename: Any, arcname: Any = None, *args: Any, **kwargs: Any) -> None:
        with open(filename, "rb") as f:  # openpyxl writes each sheet to a temp file first
            self.writestr(str(arcname or os.path.basename(filename)), f.read())


def _save(wb: Workbook, path: Path) -> None:
    buf = io.BytesIO()
    with _StableZip(buf, "w", ZIP_DEFLATED, allowZip64=True) as archive:
        ExcelWriter(wb, archive).save()  # not wb.save(): it stamps `modified` with the time of day
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(buf.getvalue())
    os.replace(tmp, path)  # an open reader never sees half a workbook


def write(request: ExportRequest) -> list[Path]:
    """The registry's `xlsx` format: the workbook at [export] xlsx (or --output), period in its name."""
    stem, _, ext = request.config.export.xlsx.rpartition(".")
    name = f"{stem}_{request.period}.{ext}" if request.period else request.config.export.xlsx
    path = request.output or request.workspace_root / name
    review = request.config.pipeline.review_confidence
    return [
        export_xlsx(
            request.docs,
            path,
            workspace_root=request.workspace_root,
            review_confidence=review,
            accounts=request.accounts,
            review=request.config.review,
            refusals=target_refusals(request),
            matches=request.matches,
        )
    ]


def target_refusals(request: ExportRequest) -> list[Refusal]:
    """What the workspace's import target ([chart] target) would refuse of these documents."""
    target = FORMATS.get(request.accounts.chart.target)
    return target.refusals(request) if target is not None else []
