"""Example configuration files (data only)."""
