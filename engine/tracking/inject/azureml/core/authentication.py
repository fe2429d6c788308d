"""``azureml.core.authentication`` under Trainyard: the credential classes, accepted and unused (a
local workspace needs no sign-in), lazily."""

from azureml import forward_to_sdk

forward_to_sdk(
    globals(),
    "AzureCliAuthentication",
    "InteractiveLoginAuthentication",
    "MsiAuthentication",
    "ServicePrincipalAuthentication",
)
