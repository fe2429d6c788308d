"""Generated CIFAR-sized images that can be learned: no download, the same images for a seed.

Each of the ten classes is one shape (stripes, rings, a cross, ...) drawn in its own colour on
a dimmer background of a random tint, shifted by a few pixels, with Gaussian noise on top. A
small CNN tells them apart within a few hundred steps, so a run's loss falls and its validation
accuracy rises, as on the real CIFAR-10."""

import torch
from torch.utils.data import TensorDataset

CLASSES = ("h-stripes", "v-stripes", "diagonal", "checker", "ring",
           "cross", "square", "dots", "triangle", "disc")
# One colour per class (RGB in 0..1): colour and shape both carry the class.
COLOURS = torch.tensor([
    [0.95, 0.25, 0.20], [0.20, 0.70, 0.25], [0.20, 0.40, 0.95], [0.95, 0.80, 0.15],
    [0.75, 0.25, 0.85], [0.15, 0.80, 0.85], [0.95, 0.55, 0.15], [0.55, 0.85, 0.20],
    [0.90, 0.35, 0.60], [0.85, 0.85, 0.85],
])
SIZE = 32


def _shapes() -> torch.Tensor:
    """The ten 32x32 masks (1 where the shape is), one per class."""
    y, x = torch.meshgrid(torch.arange(SIZE, dtype=torch.float32),
                          torch.arange(SIZE, dtype=torch.float32), indexing="ij")
    cy = cx = (SIZE - 1) / 2
    r = ((y - cy) ** 2 + (x - cx) ** 2).sqrt()
    masks = [
        (y.long() // 4) % 2 == 0,                                   # horizontal stripes
        (x.long() // 4) % 2 == 0,                                   # vertical stripes
        ((x + y).long() // 4) % 2 == 0,                             # diagonal stripes
        ((x.long() // 8) + (y.long() // 8)) % 2 == 0,               # checkerboard
        (r > 8) & (r < 12),                                         # ring
        ((x - cx).abs() < 3) | ((y - cy).abs() < 3),                # cross
        ((x - cx).abs() < 9) & ((y - cy).abs() < 9),                # square
        ((x.long() % 8) < 3) & ((y.long() % 8) < 3),                # dot grid
        (y > 6) & (y < 26) & ((x - cx).abs() < (y - 6) / 2),        # triangle
        r < 7,                                                      # disc
    ]
    return torch.stack([m.float() for m in masks])


def make_dataset(count: int, seed: int, noise: float = 0.35) -> TensorDataset:
    """`count` images (3x32x32, values about 0..1) and their labels, the same for the same seed."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, len(CLASSES), (count,), generator=g)
    masks = _shapes()[labels]                                       # count x 32 x 32
    shifts = torch.randint(-3, 4, (count, 2), generator=g)
    for i in range(count):  # a few pixels of translation, so position alone does not decide
        masks[i] = torch.roll(masks[i], shifts=(int(shifts[i, 0]), int(shifts[i, 1])), dims=(0, 1))
    colour = COLOURS[labels][:, :, None, None]                      # count x 3 x 1 x 1
    background = torch.rand(count, 3, 1, 1, generator=g) * 0.4
    images = background + masks[:, None] * (colour - background)
    images = images + noise * torch.randn(images.shape, generator=g)
    return TensorDataset(images, labels)
