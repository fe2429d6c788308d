"""``azureml.train.hyperdrive.sampling`` under Trainyard, lazily."""

from azureml import forward_to_sdk

forward_to_sdk(globals(), "BayesianParameterSampling", "GridParameterSampling", "RandomParameterSampling")
