"""The Trainyard studio: a PySide6 + pyqtgraph window over the engine; it holds no business logic."""
