"""The `replay` engine: gives back what a real engine read and answered on a document before.

A test double with the real contract: the chain runs as it always does (load, classify, parse,
validate, store, export), but the page words and the engine's answer come from a recording made
by `ledgerlens record` (`chain/record.py`), so no Tesseract, model or server is needed. A
document without a recording fails with `no_recording`: a replay never makes anything up.
"""
