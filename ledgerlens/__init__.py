"""ledgerlens: local, private document-vision extraction for finance."""

__version__ = "0.1.0"
