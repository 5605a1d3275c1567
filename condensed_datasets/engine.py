"""Machinery every recipe shares: run options, metadata, class-balanced real batches, seeding."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from torch import Generator, Tensor
from torch.nn import functional as F

from .precision import compute_in
from .sources import RealData
from .devices import to_device


MAX_SEED = 2**63 - 1  # what every torch generator accepts


def check_seed(seed: int) -> None:
    """Seeds are integers in [0, 2**63 - 1]."""
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= MAX_SEED:
        raise ValueError(f"--seed {seed} is out of range: choose an integer from 0 to {MAX_SEED}")


@dataclass
class RunOptions:
    """How to run a recipe (as opposed to *what* it computes, which is its config).

    Args:
        device: where tensors and networks live ("cpu", "cuda").
        seed: seeds every random draw of the run.
        progress: show a progress bar.
        checkpoint: file for periodic checkpoints (``None``: no checkpoints).
        resume: continue from ``checkpoint`` when it exists.
        checkpoint_minutes: how often to checkpoint.
        amp: bfloat16 autocast on CUDA where a recipe supports it.
        real_precision: dtype of the real-image embeddings that carry no gradient (`precision.PRECISIONS`).
        train_precision: arithmetic of the networks' training steps inside a recipe (IDC's network update
            and IDM's queue models' steps on real batches, the inner loop of DC, DSA and DCMG on the synthetic
            set): ``fp32`` (the reference) or bf16 autocast; ``auto`` picks bf16 on a CPU with AVX512-BF16 (`precision.PRECISIONS`).
        train_compilation: whether that training runs through ``torch.compile`` (`compilation.COMPILATION`;
            ``auto``: `compilation.resolve_compilation` on the run's planned training work).
        match_compilation: whether the gradient-matching passes of DC, DSA and IDC run compiled
            (`matching_pass`, `compilation.matching_compilation`; ``auto`` as above, on the planned matching work).
        on_iteration: called as ``on_iteration(iteration, loss)`` after every iteration (logging, timing).
    """

    device: str = "cpu"
    seed: int = 0
    progress: bool = True
    checkpoint: Path | None = None
    resume: bool = False
    checkpoint_minutes: float = 5.0
    amp: bool = False
    real_precision: str = "auto"
    train_precision: str = "auto"
    train_compilation: str = "auto"
    match_compilation: str = "auto"
    on_iteration: Callable[[int, float], None] | None = None

    @property
    def torch_device(self) -> torch.device:
        return torch.device(self.device)


def package_version() -> str:
    from . import __version__

    return __version__


def set_meta(real: RealData, method: str, ipc: int, config: dict[str, Any], seed: int, **extra: Any) -> dict[str, Any]:
    """The metadata every recipe stores with its set."""
    return {
        "dataset": real.name, "classes": list(real.classes), "mean": list(real.mean), "std": list(real.std),
        "method": method, "ipc": ipc, "config": config, "seed": seed, "package_version": package_version(),
        "image_size": list(real.image_size), "channels": real.channels, "evaluations": [], **extra,
    }


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
    from .augment import cutmix

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
