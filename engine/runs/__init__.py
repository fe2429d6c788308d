"""Runs: launching, supervising and reading back one execution."""
