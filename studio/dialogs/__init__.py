"""Dialogs of the studio."""
