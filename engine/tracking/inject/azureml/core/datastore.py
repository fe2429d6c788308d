"""``azureml.core.datastore`` under Trainyard: ``Datastore`` (a folder of the workspace), lazily."""

from azureml import forward_to_sdk

forward_to_sdk(globals(), "Datastore")
