"""Exporters: the review workbook (`export_xlsx`) and accounting CSV files (`export_csv`).

Both write the same tables (`columns.py`); every text cell goes through `escape_text` first.
"""

from .csv import export_csv
from .safe import escape_text, is_formula_like
from .xlsx import export_xlsx

__all__ = ["escape_text", "export_csv", "export_xlsx", "is_formula_like"]
