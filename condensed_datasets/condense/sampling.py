"""condense.sampling"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Generator, Tensor
from torch.nn import functional as F

from condensed_datasets.training.devices import to_device
from condensed_datasets.training.precision import compute_in
from condensed_datasets.training.sources import RealData


def sample_class(real: RealData, c: int, n: int, generator: Generator) -> Tensor:
    """``n`` random training images of class ``c`` (without replacement; all of them if fewer)."""
    idx = real.class_indices[c]
    pick = to_device(torch.randperm(len(idx), generator=generator)[:n], idx.device)
    return real.train_images[idx[pick]]


def real_init(real: RealData, ipc: int, generator: Generator) -> Tensor:
    """``ipc`` random real images per class, class-major (the usual synthetic-set initialisation)."""
    return torch.cat([sample_class(real, c, ipc, generator) for c in range(real.num_classes)])


INITS = ("real", "noise")


def init_images(real: RealData, ipc: int, init: str, generator: Generator) -> Tensor:
    """Initial synthetic images: ``real`` (random real images per class) or ``noise`` (N(0, 1), normalised space)."""
    if init == "real":
        return real_init(real, ipc, generator).clone()
    if init == "noise":
        return torch.randn(real.num_classes * ipc, real.channels, *real.image_size, generator=generator)
    raise ValueError(f"unknown init {init!r}; valid choices: {', '.join(INITS)}")


@dataclass
class TrainStats:
    """What `train_on_real` reports: the last loss and the accuracy (%) over all its batches."""

    loss: float
    accuracy: float


def train_on_real(net: torch.nn.Module, real: RealData, steps: int, generator: Generator, batch: int = 256,
                  lr: float = 0.01, momentum: float = 0.9, weight_decay: float = 5e-4, augment=None,
                  cutmix_p: float = 0.0, optimizer: torch.optim.Optimizer | None = None,
                  dtype: torch.dtype = torch.float32) -> TrainStats:
    """Train ``net`` for ``steps`` SGD steps of cross-entropy on random real batches.

    ``augment`` (e.g. a `DiffAugment`) is called as ``augment(x, generator)`` on every batch; with
    probability ``cutmix_p`` a batch is also CutMix-ed. Pass ``optimizer`` to keep momentum across calls.
    ``dtype`` other than float32 runs each forward under autocast (`precision.compute_in`): float32
    weights, optimiser and loss.
    """
    from condensed_datasets.training.augment import cutmix

    optimizer = optimizer or torch.optim.SGD(net.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    net.train()
    loss, correct, seen = torch.zeros(()), 0, 0
    n = len(real.train_labels)
    for _ in range(steps):
        idx = to_device(torch.randint(n, (batch,), generator=generator), real.train_labels.device)
        x, y = real.train_images[idx], real.train_labels[idx]
        if augment is not None:
            x = augment(x, generator)
        if cutmix_p > 0 and float(torch.rand(1, generator=generator)) < cutmix_p:
            x, perm, r = cutmix(x, generator)
            with compute_in(dtype, x.device):
                out = net(x).float()
            loss = r * F.cross_entropy(out, y) + (1 - r) * F.cross_entropy(out, y[perm])
        else:
            with compute_in(dtype, x.device):
                out = net(x).float()
            loss = F.cross_entropy(out, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        correct += int((out.argmax(1) == y).sum())
        seen += len(y)
    return TrainStats(float(loss.detach()), 100.0 * correct / max(1, seen))


@torch.no_grad()
def embed_all(net: torch.nn.Module, images: Tensor, batch: int = 1000) -> Tensor:
    """``net.embed`` over ``images`` in chunks (eval mode)."""
    net.eval()
    return torch.cat([net.embed(images[s:s + batch]) for s in range(0, len(images), batch)])
