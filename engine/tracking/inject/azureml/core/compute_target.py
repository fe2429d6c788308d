"""``azureml.core.compute_target`` under Trainyard: ``ComputeTargetException`` (and ``ComputeTarget``)."""

from azureml import forward_to_sdk

forward_to_sdk(globals(), "ComputeTarget", "ComputeTargetException")
