"""A small DistributedDataParallel training script taking the seed's DDP arguments: a linear model
fit to y = 3x - 1, one shard of the data per process, the loss logged, rank 0 saving the model."""

import argparse
import os

import torch
import torch.distributed as dist
from azureml.core import Run
from torch.nn.parallel import DistributedDataParallel

parser = argparse.ArgumentParser()
parser.add_argument("--dist-backend", default="nccl")
parser.add_argument("--dist-url", required=True)
parser.add_argument("--rank", type=int, required=True)
parser.add_argument("--world-size", type=int, required=True)
parser.add_argument("--num-epochs", type=int, default=30)
parser.add_argument("--output-dir", default="./outputs")
args = parser.parse_args()

backend = args.dist_backend.lower()
if backend == "nccl" and not torch.cuda.is_available():
    print(f"rank {args.rank}: no CUDA device, using gloo instead of nccl", flush=True)
    backend = "gloo"
print(f"rank {args.rank} of {args.world_size} joining {args.dist_url} with {backend}", flush=True)
dist.init_process_group(backend, init_method=args.dist_url, rank=args.rank, world_size=args.world_size)

torch.manual_seed(0)
x = torch.linspace(-1, 1, 64).unsqueeze(1)
y = 3 * x - 1
shard = slice(args.rank, None, args.world_size)
model = DistributedDataParallel(torch.nn.Linear(1, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.3)
run = Run.get_context()
for epoch in range(args.num_epochs):
    optimizer.zero_grad()
    loss = torch.nn.functional.mse_loss(model(x[shard]), y[shard])
    loss.backward()
    optimizer.step()
    run.log("loss", float(loss))

if args.rank == 0:
    os.makedirs(args.output_dir, exist_ok=True)
    torch.save(model.module.state_dict(), os.path.join(args.output_dir, "model.pt"))
    w = float(model.module.weight)
    print(f"weight {w:.3f} bias {float(model.module.bias):.3f}", flush=True)
dist.destroy_process_group()
