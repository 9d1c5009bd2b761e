"""Evaluations and benchmarks of ComfyFixerSmart (run separately from the tests)."""
