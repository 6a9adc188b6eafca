"""Bundled themes (data only: theme.yaml, templates/, static/)."""
