"""Model registry and LoRA adapters, shipped as package data."""
