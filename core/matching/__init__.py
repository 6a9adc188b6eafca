"""Matching machinery shared by strategies: feature arrays kept per process, and cohort pairing."""
