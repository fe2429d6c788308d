"""``azureml.pipeline`` under Trainyard: SDK v1 pipelines (``core``: Pipeline, PipelineData,
PipelineParameter, PipelineRun; ``steps``: PythonScriptStep, CommandStep) from ``engine.sdk``."""
