"""The run folder's layout lives in engine.runtime.files (a leaf every layer may import); this name
is kept for the front ends, tests and benchmarks that import it from here."""

from engine.runtime.files import DRIVER_LOG, RunFiles

__all__ = ["DRIVER_LOG", "RunFiles"]
