"""Environments: versioned specs (conda, pip, Docker, user-managed), curated ones, builders and
their cache."""
