"""`from trainyard.dsl import pipeline`, where Azure ML SDK v2 users look for it (`azure.ai.ml.dsl`)."""

from engine.sdk.v2 import pipeline

__all__ = ["pipeline"]
