"""Helpers shared by tests and benchmarks that run real processes."""
