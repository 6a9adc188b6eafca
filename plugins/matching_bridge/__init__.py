"""matching_bridge (being built)."""
