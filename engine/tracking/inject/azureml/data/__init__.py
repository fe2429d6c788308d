"""``azureml.data`` under Trainyard: the dataset classes from ``engine.sdk``, loaded lazily."""

from azureml import forward_to_sdk

forward_to_sdk(globals(), "DatasetConsumptionConfig", "FileDataset", "OutputFileDatasetConfig", "TabularDataset")
