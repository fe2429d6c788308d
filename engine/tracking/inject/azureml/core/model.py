"""``azureml.core.model`` under Trainyard: ``Model`` from ``engine.sdk``, loaded lazily."""

from azureml import forward_to_sdk

forward_to_sdk(globals(), "Model")
