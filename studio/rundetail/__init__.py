"""The detail of one run: overview, live metric plots, live logs, outputs."""

from studio.rundetail.page import RunDetail

__all__ = ["RunDetail"]
