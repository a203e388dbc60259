"""JSON Schemas of the document types, shipped as package data."""
