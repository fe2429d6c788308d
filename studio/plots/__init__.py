"""pyqtgraph plots of run metrics."""
