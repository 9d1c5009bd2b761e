"""Loopback-only fake servers shared by tests and benchmarks (one fake per module)."""
