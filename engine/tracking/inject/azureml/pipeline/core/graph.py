"""``azureml.pipeline.core.graph`` under Trainyard: ``PipelineParameter`` and ``PipelineData``."""

from azureml import forward_to_sdk

forward_to_sdk(globals(), "PipelineData", "PipelineParameter")
