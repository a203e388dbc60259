"""Bank statements out of the books: bank import files, categories and the reconciliation's files.

- `periods`: the statements of each account over the period asked for, with the balances
  before and after it (what every bank file writes);
- `ofx`, `mt940`, `camt053`, `csv_upload`: one writer per bank import format, registered in
  `export/registry.py` (`ledgerlens export --to ofx|mt940|camt053|bank-csv`);
- `rules`: the `[bank]` section of accounts.toml (bank ledger accounts, ordered rules);
- `categorize`: a booking account for each bank line (rules, learned rules, known vendors,
  else suspense with a suggestion);
- `postings`: bank lines as journal entries; `reconciliation`: the reconciliation's CSV and sheet.
"""
