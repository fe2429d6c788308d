"""``azureml.train.hyperdrive.runconfig`` under Trainyard, lazily."""

from azureml import forward_to_sdk

forward_to_sdk(globals(), "HyperDriveConfig", "PrimaryMetricGoal")
