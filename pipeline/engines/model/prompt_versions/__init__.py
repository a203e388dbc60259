"""Prompt versions as data: one TOML file per version (see pipeline/engines/model/prompts.py)."""
