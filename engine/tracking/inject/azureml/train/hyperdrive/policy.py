"""``azureml.train.hyperdrive.policy`` under Trainyard, lazily."""

from azureml import forward_to_sdk

forward_to_sdk(
    globals(), "BanditPolicy", "MedianStoppingPolicy", "NoTerminationPolicy", "TruncationSelectionPolicy"
)
