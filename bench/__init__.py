"""Benchmarks: not part of the test run; ``python -m bench`` runs them all and prints one table."""
