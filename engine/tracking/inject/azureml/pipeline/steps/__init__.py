"""``azureml.pipeline.steps`` under Trainyard: ``PythonScriptStep`` and ``CommandStep`` from ``engine.sdk``."""

from azureml import forward_to_sdk

forward_to_sdk(globals(), "CommandStep", "PythonScriptStep")
