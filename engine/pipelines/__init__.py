"""Pipelines: submitting one, its controller, step reuse and its graph (docs/pipelines.md)."""
