# run-pytorch.py: a control script written for the Azure ML SDK v1, as in the tutorial.
# Run it against a Trainyard workspace with:  trainyard python run-pytorch.py
from azureml.core import Experiment, ScriptRunConfig, Workspace

if __name__ == "__main__":
    ws = Workspace.from_config()
    experiment = Experiment(workspace=ws, name="day1-experiment-train")
    config = ScriptRunConfig(
        source_directory="./src",
        script="train.py",
        arguments=["--steps", 300],
        compute_target="local",
    )

    run = experiment.submit(config)
    print(run.get_portal_url())

    run.wait_for_completion(show_output=True)
    run.register_model(model_name="cifar-net", model_path="outputs/model.pt")
