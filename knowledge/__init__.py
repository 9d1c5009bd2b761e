"""Knowledge pack: Markdown documents, one topic each (data only)."""
