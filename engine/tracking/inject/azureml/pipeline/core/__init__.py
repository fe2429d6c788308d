"""``azureml.pipeline.core`` under Trainyard: the pipeline classes from ``engine.sdk``, loaded lazily."""

from azureml import forward_to_sdk

forward_to_sdk(globals(), "Pipeline", "PipelineData", "PipelineParameter", "PipelineRun", "StepRun")
