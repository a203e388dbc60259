"""Stage `export`: the books written out. One registry of formats (`registry.py`) and one way to
run an export (`run.py`); the review workbook (`xlsx`), CSV files (`csv`) and accounting files
(`journal`, `bills`, `datev`) built from one model of bookings (`ledger`). Every text cell goes
through `safe.escape_text`. Nothing is imported here: listing formats stays cheap."""
