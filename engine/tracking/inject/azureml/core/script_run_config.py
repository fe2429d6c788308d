"""``azureml.core.script_run_config`` under Trainyard: ``ScriptRunConfig`` from ``engine.sdk``, lazily."""

from azureml import forward_to_sdk

forward_to_sdk(globals(), "ScriptRunConfig")
