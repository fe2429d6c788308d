"""``azureml.train.hyperdrive.parameter_expressions`` under Trainyard, lazily."""

from azureml import forward_to_sdk

forward_to_sdk(
    globals(),
    "choice",
    "lognormal",
    "loguniform",
    "normal",
    "qlognormal",
    "qloguniform",
    "qnormal",
    "quniform",
    "randint",
    "uniform",
)
