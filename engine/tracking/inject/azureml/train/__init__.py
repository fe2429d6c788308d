"""``azureml.train`` under Trainyard: ``azureml.train.hyperdrive`` (sweeps); estimators are not provided."""
