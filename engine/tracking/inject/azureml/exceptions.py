"""``azureml.exceptions`` under Trainyard: the errors control scripts catch, from ``engine.sdk``, lazily."""

from azureml import forward_to_sdk

forward_to_sdk(globals(), "AzureMLException", "ComputeTargetException", "UserErrorException")
