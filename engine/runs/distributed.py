"""Kept for imports of earlier versions: a distributed run's request is
engine.runtime.distribution; its processes are started by engine.compute.distributed."""

from engine.runtime.distribution import KINDS, Distribution, make_distribution

__all__ = ["KINDS", "Distribution", "make_distribution"]
