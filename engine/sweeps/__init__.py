"""Hyperparameter sweeps: search spaces, samplers and early termination (Azure ML semantics)."""
