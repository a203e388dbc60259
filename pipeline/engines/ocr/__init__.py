"""The default `ocr` engine: no model, no weights; the field finder fills the schema from the
words the read stage put on the pages."""
