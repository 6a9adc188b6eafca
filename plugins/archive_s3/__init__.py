"""The archive_s3 plugin (being written)."""
