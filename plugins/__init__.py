"""Bundled plugins, each a folder, each loaded through the `oss_connect` entry point group."""
