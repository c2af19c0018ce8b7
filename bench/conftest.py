"""Benchmarks (opt-in: make bench)."""
