"""``azureml.core.runconfig`` under Trainyard: run configurations from ``engine.sdk``, loaded lazily."""

from azureml import forward_to_sdk

forward_to_sdk(globals(), "DockerConfiguration", "MpiConfiguration", "PyTorchConfiguration", "RunConfiguration",
               "TensorflowConfiguration")
