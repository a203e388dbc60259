"""Stage `read`: a file becomes a `Document` of pages and words.

Load and sniff the bytes (`load`), read a PDF's text layer (`textlayer`), rasterize what needs an
image (`rasterize`), OCR scanned pages with Tesseract (`ocr`) and, for hard receipts, PP-OCR
(`second`), put words in reading order (`layout`) and tell the document type (`classify`).
"""
