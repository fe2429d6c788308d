"""Train the small CNN on generated CIFAR-sized images; log the loss of every step and the
validation loss and accuracy every 50 steps.

The data (data.py) is ten classes of coloured shapes with noise, generated from a seed, so
nothing is ever downloaded, every run with the same arguments sees the same images, and the
network really learns them. Under Trainyard, `azureml.core` is provided on the run's PYTHONPATH.
"""

import argparse
import os
import time

import torch
import torch.optim as optim
from azureml.core import Run

from data import make_dataset
from model import Net

VALIDATE_EVERY = 50  # steps
VALIDATION_IMAGES = 512


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--steps", type=int, default=300, help="batches per epoch")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=0.005)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def normalize(images: torch.Tensor) -> torch.Tensor:
    """From about 0..1 to about -1..1, as the tutorial's transforms.Normalize((0.5,)*3, (0.5,)*3)."""
    return (images - 0.5) / 0.5


def main() -> None:
    args = parse_args()
    run = Run.get_context()

    torch.manual_seed(args.seed)
    # A model this small trains as fast on one thread as on two (measured on 2 CPU cores:
    # 2.7 s for 300 steps either way), and one thread leaves the other core to the rest.
    torch.set_num_threads(1)

    trainset = make_dataset(args.steps * args.batch_size, seed=args.seed)
    val_images, val_labels = make_dataset(VALIDATION_IMAGES, seed=args.seed + 10_000).tensors
    trainloader = torch.utils.data.DataLoader(
        trainset,
        batch_size=args.batch_size,
        shuffle=True,
        num_workers=0,
        generator=torch.Generator().manual_seed(args.seed),
    )

    net = Net()
    criterion = torch.nn.CrossEntropyLoss()
    optimizer = optim.SGD(net.parameters(), lr=args.lr, momentum=args.momentum)

    def validate() -> tuple[float, float]:
        net.eval()
        with torch.no_grad():
            outputs = net(normalize(val_images))
        net.train()
        accuracy = (outputs.argmax(1) == val_labels).float().mean().item()
        return criterion(outputs, val_labels).item(), accuracy

    started = time.monotonic()
    for epoch in range(args.epochs):
        running_loss = 0.0
        for i, (inputs, labels) in enumerate(trainloader):
            optimizer.zero_grad()
            loss = criterion(net(normalize(inputs)), labels)
            loss.backward()
            optimizer.step()

            value = loss.item()
            run.log("loss", value)
            running_loss += value
            if (i + 1) % VALIDATE_EVERY == 0:
                val_loss, val_accuracy = validate()
                run.log("val/loss", val_loss)
                run.log("val/accuracy", val_accuracy)
                print(
                    f"epoch={epoch + 1}, batch={i + 1:5}: loss {running_loss / VALIDATE_EVERY:.3f},"
                    f" val_loss {val_loss:.3f}, val_accuracy {val_accuracy:.3f}"
                    f" ({time.monotonic() - started:.1f} s)",
                    flush=True,
                )
                running_loss = 0.0

    os.makedirs("outputs", exist_ok=True)
    torch.save(net.state_dict(), "outputs/model.pt")
    print("Finished Training")


if __name__ == "__main__":
    main()
