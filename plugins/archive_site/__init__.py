"""The archive_site plugin (being written)."""
