"""``azureml.core.experiment`` under Trainyard: ``Experiment`` from ``engine.sdk``, loaded lazily."""

from azureml import forward_to_sdk

forward_to_sdk(globals(), "Experiment")
