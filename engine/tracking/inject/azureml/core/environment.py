"""``azureml.core.environment`` under Trainyard: ``Environment`` from ``engine.sdk``, loaded lazily."""

from azureml import forward_to_sdk

forward_to_sdk(globals(), "Environment")
