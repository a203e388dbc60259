"""The ledgerlens pipeline: one folder per stage of the chain, imports only from earlier stages.

    read -> engines (extract) -> check -> chain -> books -> export -> intake -> measure -> train

- base modules at this level (`types`, `errors`, `config`, `machine`, `normalize`, `money`,
  `doctypes/`) are shared by every stage and import no stage;
- `read/` turns a file into pages of words (load, text layer, rasterize, OCR, layout, classify);
- `engines/` fill a document type's schema from the pages (the contract and registry, `ocr/`
  with its field finder, `model/` shared by model engines, `transformers/`, `openai/`, and
  `replay/`, which gives back recorded pages and answers);
- `check/` holds engine output to the schema and to an accountant's checks;
- `chain.py` runs one document through read -> extract -> check, written once;
- `books/` keeps results (the store, the audit trail, review corrections, duplicates);
- `export/` writes the books out (one registry of formats);
- `intake/` is the workspace: folders, claims, the journal, one document to done/ or failed/;
- `measure/` scores and times the chain (eval, bench);
- `train/` fine-tunes a model engine's LoRA adapter on reviewed examples (`ledgerlens train`).

`tests/test_imports.py` builds the import graph and holds every module to this order.
"""
