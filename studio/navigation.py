"""The main window's pages, in the navigation's order (Ctrl+1 … Ctrl+7), and their labels."""

PAGES = ("experiments", "runs", "environments", "compute", "models", "data", "components")
NAV_LABELS = {"experiments": "Experiments", "runs": "Runs", "environments": "Environments", "compute": "Compute",
              "models": "Models", "data": "Data", "components": "Components"}
