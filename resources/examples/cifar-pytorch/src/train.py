"""Train the small CNN on generated CIFAR-sized images and log the loss of every step.

The data is torchvision's FakeData (random 3x32x32 images, 10 classes), generated on the fly
from a seed, so nothing is ever downloaded and every run with the same arguments sees the
same images. Under Trainyard, `azureml.core` is provided on the run's PYTHONPATH.
"""

import argparse
import os
import time

import torch
import torch.optim as optim
import torchvision
import torchvision.transforms as transforms
from azureml.core import Run

from model import Net


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--steps", type=int, default=300, help="batches per epoch")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=0.001)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    run = Run.get_context()

    torch.manual_seed(args.seed)
    # A model this small trains as fast on one thread as on two (measured on 2 CPU cores:
    # 2.7 s for 300 steps either way), and one thread leaves the other core to the rest.
    torch.set_num_threads(1)

    trainset = torchvision.datasets.FakeData(
        size=args.steps * args.batch_size,
        image_size=(3, 32, 32),
        num_classes=10,
        transform=transforms.ToTensor(),
        random_offset=args.seed,
    )
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

    started = time.monotonic()
    for epoch in range(args.epochs):
        running_loss = 0.0
        for i, (inputs, labels) in enumerate(trainloader):
            optimizer.zero_grad()
            loss = criterion(net(inputs), labels)
            loss.backward()
            optimizer.step()

            value = loss.item()
            run.log("loss", value)
            running_loss += value
            if (i + 1) % 50 == 0:
                print(
                    f"epoch={epoch + 1}, batch={i + 1:5}: loss {running_loss / 50:.3f}"
                    f" ({time.monotonic() - started:.1f} s)",
                    flush=True,
                )
                running_loss = 0.0

    os.makedirs("outputs", exist_ok=True)
    torch.save(net.state_dict(), "outputs/model.pt")
    print("Finished Training")


if __name__ == "__main__":
    main()
