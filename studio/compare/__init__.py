"""Comparing runs: their metrics overlaid, and the settings that differ between them."""
