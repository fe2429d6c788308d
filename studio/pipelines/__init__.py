"""The pipeline graph: its view-model and layout (no Qt) and the widget that draws it."""
