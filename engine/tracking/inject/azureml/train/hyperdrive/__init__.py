"""``azureml.train.hyperdrive`` under Trainyard: HyperDrive runs as Trainyard sweeps (engine.sdk.hyperdrive)."""

from azureml import forward_to_sdk

forward_to_sdk(
    globals(),
    "BanditPolicy",
    "BayesianParameterSampling",
    "GridParameterSampling",
    "HyperDriveConfig",
    "HyperDriveRun",
    "MedianStoppingPolicy",
    "NoTerminationPolicy",
    "PrimaryMetricGoal",
    "RandomParameterSampling",
    "TruncationSelectionPolicy",
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
