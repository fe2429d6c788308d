"""``azureml.train.hyperdrive.run`` under Trainyard, lazily."""

from azureml import forward_to_sdk

forward_to_sdk(globals(), "HyperDriveRun", "PrimaryMetricGoal")
