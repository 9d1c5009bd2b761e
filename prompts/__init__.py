"""Prompt templates (data only), loaded by name."""
