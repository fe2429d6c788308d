"""``azureml.core.compute`` under Trainyard: compute targets from ``engine.sdk``, loaded lazily."""

from azureml import forward_to_sdk

forward_to_sdk(globals(), "AmlCompute", "ComputeTarget")
