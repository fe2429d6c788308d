"""``azureml.data.dataset_consumption_config`` under Trainyard, lazily."""

from azureml import forward_to_sdk

forward_to_sdk(globals(), "DatasetConsumptionConfig")
