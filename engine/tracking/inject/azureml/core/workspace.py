"""``azureml.core.workspace`` under Trainyard: ``Workspace`` from ``engine.sdk``, loaded lazily."""

from azureml import forward_to_sdk

forward_to_sdk(globals(), "Workspace")
