"""A pipeline API in the spirit of Azure ML SDK v2 (`azure.ai.ml`'s `command`, `Input`, `Output`
and `dsl.pipeline`), exposed to users as `from trainyard import command, pipeline, Input, Output`.

It builds the very mapping a pipeline YAML gives (`type: pipeline`, `jobs:` of command steps wired
by `${{parent...}}` bindings), so a pipeline written in Python and one written in YAML are loaded,
checked and run by the same code (engine.specs.pipeline)."""

from engine.sdk.v2.component import CommandComponent, Step, command
from engine.sdk.v2.dataio import Input, Output
from engine.sdk.v2.pipeline import PipelineJob, pipeline, submit

__all__ = ["CommandComponent", "Input", "Output", "PipelineJob", "Step", "command", "pipeline", "submit"]
