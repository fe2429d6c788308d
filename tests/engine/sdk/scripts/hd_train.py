"""A tiny trial script: 'accuracy' peaks at --learning_rate 0.1 and grows with --epochs, logged
once per epoch; --tag checks that a fixed argument comes before the sampled ones."""

import argparse

from azureml.core import Run

parser = argparse.ArgumentParser()
parser.add_argument("--tag", required=True)
parser.add_argument("--learning_rate", type=float, required=True)
parser.add_argument("--epochs", type=int, required=True)
args = parser.parse_args()

run = Run.get_context()
for epoch in range(1, args.epochs + 1):
    run.log("accuracy", round(1.0 - abs(args.learning_rate - 0.1) - 0.1 / epoch, 6))
print(f"tag={args.tag} lr={args.learning_rate} epochs={args.epochs}", flush=True)
