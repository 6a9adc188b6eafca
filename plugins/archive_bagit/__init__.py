"""The archive_bagit plugin (being written)."""
