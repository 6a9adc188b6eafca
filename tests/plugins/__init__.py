"""Test plugins: the distributions under dist_*/ are pip-installed by the tests that need them."""
