"""The layout text a text model reads: columns stay aligned, pages are marked, long documents are
cut into chunks under a budget at page (else row) boundaries, and no word is lost or repeated."""

from __future__ import annotations

import pytest
from ledgerlens.pipeline.read.pagetext import chunk_pages, page_lines, render_pages
from ledgerlens.pipeline.types import Page, Word

CHAR = 6.0  # points per character in the pages below (10 pt words, 6 pt per letter)


def _row(page: list[Word], y: float, *cells: tuple[float, str]) -> None:
    """Words of one row: each cell's words start at x and run on at CHAR per letter."""
    for x, text in cells:
        for token in text.split():
            page.append(Word(token, (x, y, x + CHAR * len(token), y + 10)))
            x += CHAR * (len(token) + 1)


def invoice_page(index: int = 0) -> Page:
    words: list[Word] = []
    _row(words, 50, (50, "ACME Supplies Ltd"), (400, "Invoice INV-0042"))
    _row(words, 64, (50, "1 High Street"), (400, "Date 2024-03-01"))
    _row(words, 150, (50, "Description"), (300, "Qty"), (400, "Amount"))
    _row(words, 164, (50, "Paper A4"), (300, "2"), (400, "10.00"))
    _row(words, 178, (50, "Toner cartridge black"), (300, "1"), (400, "89.90"))
    _row(words, 230, (300, "Total"), (400, "99.90 EUR"))
    return Page(index, 595, 842, words, "text_layer")


def test_columns_line_up_and_rows_keep_their_order():
    lines = page_lines(invoice_page())
    text = [ln for ln in lines if ln]
    assert text[0].startswith("ACME Supplies Ltd") and text[0].endswith("Invoice INV-0042")
    # Cells that start at the same x on the page start at the same column in the text.
    for label in ("Invoice", "Date", "Amount", "10.00", "89.90", "99.90"):
        assert sum(label in ln for ln in text) == 1
    right = ("Invoice", "Date", "Amount", "10.00", "89.90", "99.90")
    columns = {v: ln.index(v) for ln in text for v in right if v in ln}
    assert len(set(columns.values())) == 1, columns
    assert text[3].index("2") == text[4].index("1") == text[2].index("Qty")
    # The gap between the address block and the table is one blank line, not many.
    assert lines.count("") == 2 and "" not in lines[:2]


def test_pages_are_marked_and_empty_pages_say_so():
    text = render_pages([invoice_page(0), Page(1, 595, 842, [], "none")])
    assert text.startswith("--- page 1 of 2 ---\nACME Supplies Ltd")
    assert "--- page 2 of 2 ---\n(no text on this page)" in text


def _words_in(text: str) -> list[str]:
    return [t for line in text.splitlines() if not line.startswith("--- page") for t in line.split()]


def test_a_long_document_is_chunked_at_page_boundaries_under_the_budget():
    pages = [invoice_page(i) for i in range(7)]
    one_page = len(render_pages(pages[:1]))
    chunks = chunk_pages(pages, budget=int(one_page * 2.5), count=len)
    assert [c.pages for c in chunks] == [[0, 1], [2, 3], [4, 5], [6]]
    assert all(len(c.text) <= one_page * 2.5 for c in chunks)
    assert all(c.text.startswith(f"--- page {c.pages[0] + 1} of 7 ---") for c in chunks)
    everything = [w for c in chunks for w in _words_in(c.text)]
    assert everything == _words_in(render_pages(pages))  # nothing lost, nothing repeated, same order


def test_a_page_over_the_budget_is_split_at_rows_under_continued_markers():
    page = invoice_page()
    chunks = chunk_pages([page], budget=120, count=len)
    assert len(chunks) > 1 and all(c.pages == [0] for c in chunks)
    assert chunks[0].text.startswith("--- page 1 of 1 ---\n")
    assert all(c.text.startswith("--- page 1 of 1 (continued) ---\n") for c in chunks[1:])
    assert all(len(c.text) <= 120 for c in chunks)
    assert [w for c in chunks for w in _words_in(c.text)] == _words_in(render_pages([page]))


def test_a_budget_must_be_positive():
    with pytest.raises(ValueError, match="positive"):
        chunk_pages([invoice_page()], budget=0)
