"""A control script making the seed 002 calls in its order: imports, workspace, the compute
try/except, the curated GPU environment (saved, cloned), a ScriptRunConfig with the DDP argument
list and a 2-node PyTorchConfiguration, the run, then register and download the model."""

import os
import sys

from azureml.core import Environment, Experiment
from azureml.core.compute import AmlCompute, ComputeTarget
from azureml.core.compute_target import ComputeTargetException
from azureml.core.workspace import Workspace

ws = Workspace.from_config()

project_folder = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ddp-project")

cluster_name = "gpu-cluster"
try:
    compute_target = ComputeTarget(workspace=ws, name=cluster_name)
    print("Found existing compute target")
except ComputeTargetException:
    print("Creating a new compute target...")
    compute_config = AmlCompute.provisioning_configuration(vm_size="STANDARD_NC6", max_nodes=4)
    compute_target = ComputeTarget.create(ws, cluster_name, compute_config)
    compute_target.wait_for_completion(show_output=True, min_node_count=None, timeout_in_minutes=20)

curated_env_name = "AzureML-PyTorch-1.6-GPU"
pytorch_env = Environment.get(workspace=ws, name=curated_env_name)
pytorch_env.save_to_directory(path=curated_env_name, overwrite=True)
pytorch_env = pytorch_env.clone(new_name="pytorch-1.6-gpu")

# The seed's custom environment, built the same way (a conda file and a CUDA base image). Building it
# needs conda-forge and the image registry, so this script runs with the cloned curated one above.
with open("conda_dependencies.yml", "w") as f:
    f.write(
        "channels:\n- conda-forge\ndependencies:\n- python=3.6.2\n- pip:\n"
        "  - azureml-defaults\n  - torch==1.6.0\n  - torchvision==0.7.0\n  - future==0.17.1\n  - pillow\n"
    )
custom_env = Environment.from_conda_specification(
    name="pytorch-1.6-gpu-custom", file_path="./conda_dependencies.yml"
)
custom_env.docker.enabled = True
custom_env.docker.base_image = "mcr.microsoft.com/azureml/openmpi3.1.2-cuda10.1-cudnn7-ubuntu18.04"
print("CUSTOM", custom_env.to_spec().kind, custom_env.python.conda_dependencies.get_python_version())

from azureml.core import ScriptRunConfig
from azureml.core.runconfig import PyTorchConfiguration

args = [
    "--dist-backend",
    "nccl",
    "--dist-url",
    "$AZ_BATCHAI_PYTORCH_INIT_METHOD",
    "--rank",
    "$AZ_BATCHAI_TASK_INDEX",
    "--world-size",
    2,
    "--num-epochs",
    30,
]

src = ScriptRunConfig(
    source_directory=project_folder,
    script="ddp_train.py",
    arguments=args,
    compute_target=compute_target,
    environment=pytorch_env,
    distributed_job_config=PyTorchConfiguration(communication_backend="Nccl", node_count=2),
)

run = Experiment(ws, name="seed-pytorch-ddp").submit(src)
run.wait_for_completion(show_output=True)

model = run.register_model(model_name="pytorch-ddp", model_path="outputs/model.pt")
print("MODEL", model.name, model.version)

os.makedirs("./model", exist_ok=True)
run.download_file(name="outputs/model.pt", output_file_path="./model/model.pt")
print("STATUS", run.get_status())
sys.exit(0 if run.get_status() == "Completed" else 1)
