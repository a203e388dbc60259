"""Reconciliation: each way a payment can match (and the near misses that must not), what the
store keeps, reconciliation.csv, the workbook's sheets and the journal's bank lines."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path

from bank_docs import VENDOR_IBAN, invoice, receipt, statement
from ledgerlens.pipeline.books.payments import paid_documents, stored_matches
from ledgerlens.pipeline.books.reconcile import cash_discount, reconcile
from ledgerlens.pipeline.books.store import Store
from ledgerlens.pipeline.config import Config
from ledgerlens.pipeline.export.bank.reconciliation import CSV_HEADER, run_reconcile
from ledgerlens.pipeline.export.run import run_export
from openpyxl import load_workbook

ACME = "Acme Supplies GmbH"


def _one(lines, docs):
    """(status, invoice numbers, score) for each line, in date order."""
    rec = reconcile([statement(1, lines), *docs])
    return [(m.status, [a.item.number for a in m.allocations], m.score) for m in rec.lines], rec


def test_amount_and_number_in_the_text() -> None:
    got, rec = _one(
        [("2025-03-05", "Überweisung Acme RE-2025-0042", "-1190.00")],
        [invoice(2, "RE-2025-0042", ACME, "1190.00", "2025-02-20")],
    )
    assert got == [("matched", ["RE-2025-0042"], 0.85)]  # number 0.45 + amount 0.35 + on time 0.05
    assert rec.lines[0].allocations[0].open_after == 0 and "number RE-2025-0042 in the text" in rec.lines[0].reason


def test_amount_and_iban_without_a_number() -> None:
    got, _ = _one(
        [("2025-03-05", f"Überweisung IBAN {VENDOR_IBAN} Kd 77", "-500.00")],
        [invoice(2, "4711", "Somebody Else AG", "500.00", "2025-02-20", iban=VENDOR_IBAN),
         invoice(3, "4712", "Third GmbH", "500.00", "2025-02-20")],
    )  # fmt: skip
    assert got[0][:2] == ("matched", ["4711"])


def test_cash_discount_within_its_days_but_not_after() -> None:
    terms = "Zahlbar innerhalb 30 Tagen netto, 2 % Skonto bei Zahlung innerhalb 10 Tagen"
    assert cash_discount(terms) == (Decimal(2), 10) and cash_discount("2/10 net 30") == (Decimal(2), 10)
    inv = invoice(2, "RE-9", ACME, "1000.00", "2025-03-01", payment_terms=terms)
    on_time, rec = _one([("2025-03-08", "Acme RE-9", "-980.00")], [inv])
    assert on_time[0][:2] == ("matched", ["RE-9"]) and "2 % cash discount" in rec.lines[0].reason
    assert rec.items[0].open == 0  # the discount closes the invoice
    late, _ = _one([("2025-03-20", "Acme RE-9", "-980.00")], [invoice(2, "RE-9", ACME, "1000.00", "2025-03-01",
                                                                       payment_terms=terms)])  # fmt: skip
    assert late[0][0] == "partial"  # 20 days: no discount, so 20.00 stays open


def test_one_payment_for_several_invoices() -> None:
    docs = [invoice(2, "RE-101", ACME, "100.00", "2025-02-01"), invoice(3, "RE-102", ACME, "250.50", "2025-02-03"),
            invoice(4, "RE-103", ACME, "99.00", "2025-02-04")]  # fmt: skip
    by_refs, _ = _one([("2025-03-01", "Acme RE-101 RE-102", "-350.50")], docs)
    assert by_refs[0][:2] == ("matched", ["RE-101", "RE-102"])
    docs = [invoice(2, "RE-101", ACME, "100.00", "2025-02-01"), invoice(3, "RE-102", ACME, "250.50", "2025-02-03"),
            invoice(4, "RE-103", ACME, "99.00", "2025-02-04")]  # fmt: skip
    by_sum, _ = _one([("2025-03-01", "Sammelzahlung Acme Supplies", "-199.00")], docs)
    assert by_sum[0][:2] == ("matched", ["RE-101", "RE-103"])  # the only set of Acme's open items making 199.00


def test_partial_payments_add_up() -> None:
    lines = [("2025-03-01", "Acme RE-7 1. Rate", "-400.00"), ("2025-03-15", "Acme RE-7 2. Rate", "-300.00"),
             ("2025-03-29", "Acme RE-7 Rest", "-490.00")]  # fmt: skip
    got, rec = _one(lines, [invoice(2, "RE-7", ACME, "1190.00", "2025-02-25")])
    assert [g[0] for g in got] == ["partial", "partial", "matched"]
    assert [m.allocations[0].open_after for m in rec.lines] == [Decimal("790.00"), Decimal("490.00"), Decimal(0)]


def test_receipt_matches_its_card_payment() -> None:
    got, _ = _one([("2025-03-04", "Kartenzahlung Frischmarkt Lindner Leipzig", "-23.47")],
                  [receipt(2, "Frischmarkt Lindner", "23.47", "2025-03-03")])  # fmt: skip
    assert got[0][0] == "matched"


def test_credit_note_is_refunded_by_money_in() -> None:
    note = invoice(2, "GS-5", ACME, "59.50", "2025-03-01", document_subtype="credit_note")
    got, _ = _one([("2025-03-10", "Gutschrift Acme GS-5", "59.50"), ("2025-03-11", "Acme GS-5", "-59.50")], [note])
    assert [g[0] for g in got] == ["matched", "unmatched"]


def test_near_misses_do_not_match() -> None:
    docs = [invoice(2, "RE-2025-0042", ACME, "1190.00", "2025-02-20"),
            invoice(3, "77", "Beta Bau KG", "64.00", "2025-02-20")]  # fmt: skip
    lines = [
        ("2025-03-02", "Überweisung Gamma Druck RE-2025-00421", "-1190.00"),  # a longer number, another vendor
        ("2025-03-03", "Kartenzahlung Tankstelle 77", "-64.00"),  # same amount; "77" too short to count as a number
        ("2025-01-02", "Überweisung Acme RE-2025-0042", "-1190.00"),  # weeks before the invoice's date
        ("2025-03-04", "Acme Supplies RE-2025-0042", "-1190.01"),  # a cent too much: over-payment
    ]
    got, _ = _one(lines, docs)
    assert [g[0] for g in got] == ["unmatched", "suggested", "suggested", "suggested"]
    assert all(g[0] not in ("matched", "partial") for g in got)


def test_two_equal_invoices_without_a_number_stay_a_question() -> None:
    docs = [invoice(2, "M-1", ACME, "49.00", "2025-02-01"), invoice(3, "M-2", ACME, "49.00", "2025-03-01")]
    got, rec = _one([("2025-03-05", "Lastschrift Acme Supplies Abo", "-49.00")], docs)
    assert got[0][0] == "suggested" and "M-1 or M-2" in rec.lines[0].reason.replace("M-2 or M-1", "M-1 or M-2")


def test_reviewer_given_invoice_number_decides() -> None:
    docs = [invoice(2, "M-1", ACME, "49.00", "2025-02-01"), invoice(3, "M-2", ACME, "49.00", "2025-03-01")]
    rows = [("2025-03-05", "Lastschrift Acme Supplies Abo", "-49.00")]
    st = statement(1, rows)
    st.result.data["transactions"][0]["invoice_number"] = "M-2"
    rec = reconcile([st, *docs])
    assert rec.lines[0].status == "matched" and rec.lines[0].allocations[0].item.number == "M-2"
    assert rec.lines[0].score == 1.0


def _workspace(tmp_path: Path) -> Store:
    (tmp_path / "exports").mkdir()
    (tmp_path / "accounts.toml").write_text(
        '[accounts]\npayable = "1600"\nsuspense = "9999"\n[bank]\naccount = "1200"\n'
        '[[bank.rules]]\ncounterparty = "krankenkasse"\naccount = "8900"\n',
        encoding="utf-8",
    )
    store = Store.for_workspace(tmp_path)
    lines = [("2025-03-05", "Überweisung Acme RE-2025-0042", "-1190.00"),
             ("2025-03-07", "Gutschrift Erstattung Krankenkasse", "86.20"),
             ("2025-03-09", "Kartenzahlung Tankstelle Am Ring", "-60.00")]  # fmt: skip
    for doc in (statement(1, lines), invoice(2, "RE-2025-0042", ACME, "1190.00", "2025-02-20", due_date="2025-03-06"),
                invoice(3, "RE-9", "Beta Bau KG", "300.00", "2025-02-01", due_date="2025-03-01")):  # fmt: skip
        store.save(doc.result)
    return store


def test_run_reconcile_keeps_marks_and_writes_the_csv(tmp_path: Path) -> None:
    store = _workspace(tmp_path)
    report = run_reconcile(store, tmp_path)
    assert report.counts == {"matched": 1, "partial": 0, "suggested": 0, "unmatched": 2}
    rows = list(csv.reader(io.StringIO((tmp_path / "exports" / "reconciliation.csv").read_text("utf-8-sig"))))
    assert tuple(rows[0]) == CSV_HEADER
    assert rows[1][:8] == ["2025-03-05", "-1190.00", "EUR", "Überweisung Acme RE-2025-0042", "matched",
                           "invoice2.pdf", "RE-2025-0042", "0.00"]  # fmt: skip
    paid = paid_documents(stored_matches(store))
    assert list(paid) == [store.get("invoice2.pdf").result.sha256]
    assert [o.number for o in report.open_invoices] == ["RE-9"] and report.open_invoices[0].days_overdue(
        report.as_of
    ) == 8
    opened = (tmp_path / "exports" / "open_invoices.csv").read_text("utf-8-sig")
    assert "RE-9" in opened and "overdue" in opened
    assert run_reconcile(store, tmp_path, period="2025-03").counts == report.counts  # idempotent
    assert len(stored_matches(store)) == 3
    store.close()


def test_journal_and_workbook_show_the_reconciliation(tmp_path: Path) -> None:
    store = _workspace(tmp_path)
    run_reconcile(store, tmp_path)
    (journal,) = run_export(store, tmp_path, Config(), "journal").files
    rows = [r for r in csv.DictReader(io.StringIO(journal.read_text("utf-8-sig"))) if r["entry_id"].startswith("LB")]
    by_entry: dict[str, list[dict]] = {}
    for r in rows:
        by_entry.setdefault(r["entry_id"], []).append(r)
    assert len(by_entry) == 3
    for postings in by_entry.values():  # every bank entry balances
        debit = sum(Decimal(p["debit"] or 0) for p in postings)
        assert debit == sum(Decimal(p["credit"] or 0) for p in postings)
    accounts = {e: sorted((p["account"], p["debit"], p["credit"]) for p in ps) for e, ps in by_entry.items()}
    assert accounts["LB000001-0000"] == [("1200", "", "1190.00"), ("1600", "1190.00", "")]  # paid the bill
    assert accounts["LB000001-0001"] == [("1200", "86.20", ""), ("8900", "", "86.20")]  # by rule
    assert accounts["LB000001-0002"] == [("1200", "", "60.00"), ("9999", "60.00", "")]  # suspense
    (book,) = run_export(store, tmp_path, Config(), "xlsx").files
    wb = load_workbook(book)
    sheet = [[c.value for c in r] for r in wb["Reconciliation"].iter_rows()]
    assert sheet[0][:6] == ["source_file", "transaction_date", "amount", "currency", "description", "status"]
    assert [r[5] for r in sheet[1:]] == ["matched", "unmatched", "unmatched"]
    assert [r[12] for r in sheet[1:]] == ["1600", "8900", "9999"]
    assert [r[1] for r in wb["Open invoices"].iter_rows(min_row=2, values_only=True)] == ["RE-9"]
    store.close()


def test_a_doubtful_payment_goes_to_review_and_a_reviewer_confirms_it(tmp_path: Path) -> None:
    from ledgerlens.pipeline.books.review import Correction, apply_corrections
    from ledgerlens.pipeline.doctypes.schemas import load_schemas

    (tmp_path / "exports").mkdir()
    store = Store.for_workspace(tmp_path)
    line = ("2025-03-05", "Lastschrift Acme Supplies Abo", "-49.00")
    invoices = [invoice(2, "M-1", ACME, "49.00", "2025-02-01"), invoice(3, "M-2", ACME, "49.00", "2025-03-01")]
    for doc in (statement(1, [line]), *invoices):
        store.save(doc.result)
    assert run_reconcile(store, tmp_path).counts["suggested"] == 1
    (book,) = run_export(store, tmp_path, Config(), "xlsx").files
    review = [
        r for r in load_workbook(book)["Review"].iter_rows(min_row=2, values_only=True) if r[7] == "payment_suggested"
    ]
    assert len(review) == 1 and review[0][4] == "transactions[0].invoice_number"
    fix = Correction(row=2, doc_id=1, field="transactions[0].invoice_number", value="M-2", status="corrected")
    assert apply_corrections(store, [fix], load_schemas(), user="ana", workspace_root=tmp_path, source="x").applied
    report = run_reconcile(store, tmp_path)
    assert report.counts["matched"] == 1 and [o.number for o in report.open_invoices] == ["M-1"]
    store.close()


def test_a_document_in_another_currency_is_no_candidate() -> None:
    gbp = invoice(2, "INV-9", ACME, "100.00", "2025-03-01", currency="GBP")
    got, _ = _one([("2025-03-05", "Acme Supplies INV-9", "-100.00")], [gbp])
    assert got[0][0] == "unmatched"
