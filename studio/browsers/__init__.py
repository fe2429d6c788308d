"""The pages of the main window that list things: runs, experiments, models."""
