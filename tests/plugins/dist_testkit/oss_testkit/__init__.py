"""Test-only oss-connect plugins, installed by tests/test_plugin_distribution.py."""
