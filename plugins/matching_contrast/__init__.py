"""matching_contrast (being built)."""
