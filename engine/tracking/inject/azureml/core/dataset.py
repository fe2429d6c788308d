"""``azureml.core.dataset`` under Trainyard: ``Dataset`` (local files, registered as data assets), lazily."""

from azureml import forward_to_sdk

forward_to_sdk(globals(), "Dataset")
