"""Prompt versions as data: one TOML file per version (see pipeline/vlm/prompts.py)."""
