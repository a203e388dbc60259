"""Exporters: the review workbook (`export_xlsx`) and accounting CSV files (`export_csv`).

Both write the same tables (`columns.py`); every text cell goes through `escape_text` first.
"""

from ledgerlens.pipeline.export.csv import export_csv
from ledgerlens.pipeline.export.safe import escape_text, is_formula_like
from ledgerlens.pipeline.export.xlsx import export_xlsx

__all__ = ["escape_text", "export_csv", "export_xlsx", "is_formula_like"]
