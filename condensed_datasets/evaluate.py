"""The evaluation protocol: train K fresh networks on a (decoded) set, test them on the real test split.

The K networks are trained together in one process. On CUDA their parameters are stacked and one
``torch.func.vmap``'d forward/backward serves all of them; on CPU, where training is compute-bound,
they take interleaved steps (see `train_and_test`'s ``together``). Networks with BatchNorm
running statistics never use vmap (it cannot update buffers in place). Each network keeps its own
initialisation, its own shuffling and its own augmentation draws.

Protocols (`methods.md` §5) are registered by name in `PROTOCOLS`; every result records the
protocol, epochs and model count so numbers are only compared like for like.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch
from torch import Tensor, nn
from torch.func import functional_call, stack_module_state, vmap
from torch.nn import functional as F
from tqdm.auto import tqdm

from .augment import DiffAugment, cutmix
from .condensed_set import CondensedSet
from .nets import get_network, has_batchnorm
from .registry import Registry
from .sources import NO_FLIP_DSA, RealData

GRAY_DIGITS = ("mnist", "digits")


@dataclass(frozen=True)
class Protocol:
    """How a set is evaluated: epochs, optimiser, schedule, batch size and augmentation."""

    name: str
    description: str
    batch_size: int
    epochs: Callable[[str, int, int], int]  # (dataset name, classes, training images per class) -> epochs
    augmentation: Callable[[RealData], DiffAugment | None]
    milestones: tuple[float, ...]  # fractions of the epochs where the lr is multiplied by gamma
    gamma: float
    reset_optimizer: bool  # VICO re-creates the optimiser (momentum reset) at the decay
    cutmix_p: Callable[[RealData], float] = lambda real: 0.0
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4


PROTOCOLS: Registry[Protocol] = Registry("protocol")


def _dc_aug(real: RealData) -> DiffAugment | None:
    # DC augments only MNIST (crop/scale/rotate); approximated with the differentiable ops.
    return DiffAugment("crop_scale_rotate") if real.name in GRAY_DIGITS else None


def _idc_epochs(dataset: str, num_classes: int, per_class: int) -> int:
    table = ((1, 3000), (10, 2000), (50, 1500), (200, 1000), (500, 500))
    epochs = next((e for limit, e in table if per_class <= limit), 300)
    if num_classes >= 100:
        epochs = (epochs * 2 // 3) // 100 * 100
    return epochs


def _idc_aug(real: RealData) -> DiffAugment:
    # IDC evaluation: its DSA composition without cutout (CutMix replaces it), no flip on digits.
    strategy = "color_crop_scale_rotate" if real.dsa_strategy == NO_FLIP_DSA else "color_crop_flip_scale_rotate"
    return DiffAugment(strategy, composition="idc")


PROTOCOLS.register("dc", Protocol(
    "dc", "DC (ICLR'21): 300 epochs (1000 with MNIST augmentation), batch 256, lr 0.01 x0.1 at half",
    256, lambda dataset, classes, n: 1000 if dataset in GRAY_DIGITS else 300, _dc_aug, (0.5,), 0.1, True,
))
PROTOCOLS.register("dsa", Protocol(
    "dsa", "DSA/DM/IDM: 1000 epochs with DSA augmentation, batch 256, lr 0.01 x0.1 at half",
    256, lambda dataset, classes, n: 1000, lambda real: DiffAugment(real.dsa_strategy), (0.5,), 0.1, True,
))
PROTOCOLS.register("idc", Protocol(
    "idc", "IDC (ICML'22): batch 64, IDC augmentation + CutMix p=0.5, lr x0.2 at 2/3 and 5/6, epochs by set size",
    64, _idc_epochs, _idc_aug, (2 / 3, 5 / 6), 0.2, False,
    cutmix_p=lambda real: 0.0 if real.name in GRAY_DIGITS else 0.5,
))


def list_protocols() -> list[str]:
    """Names of the registered evaluation protocols."""
    return PROTOCOLS.names()


class _StackedModels:
    """K copies of one architecture trained as one: stacked parameters, a vmap'd forward."""

    def __init__(self, models: list[nn.Module]) -> None:
        self.base = copy.deepcopy(models[0]).to("meta")
        params, buffers = stack_module_state(models)
        self.params = {k: v.detach().requires_grad_(True) for k, v in params.items()}
        self.buffers = buffers
        self.k = len(models)

        def one(p: dict[str, Tensor], b: dict[str, Tensor], x: Tensor) -> Tensor:
            return functional_call(self.base, (p, b), (x,))

        self._per_model = vmap(one, in_dims=(0, 0, 0))
        self._shared = vmap(one, in_dims=(0, 0, None))

    def parameters(self) -> list[Tensor]:
        return list(self.params.values())

    def train(self, mode: bool = True) -> None:
        self.base.train(mode)

    def forward(self, x: Tensor) -> Tensor:
        """``[K, B, C, H, W]`` -> ``[K, B, classes]``, model k on batch k."""
        return self._per_model(self.params, self.buffers, x)

    def forward_shared(self, x: Tensor) -> Tensor:
        """``[B, C, H, W]`` -> ``[K, B, classes]``, every model on the same batch."""
        return self._shared(self.params, self.buffers, x)


class _ModelLoop:
    """The same interface over a plain list of models (BatchNorm nets, and the sequential baseline)."""

    def __init__(self, models: list[nn.Module]) -> None:
        self.models = models
        self.k = len(models)

    def parameters(self) -> list[Tensor]:
        return [p for m in self.models for p in m.parameters()]

    def train(self, mode: bool = True) -> None:
        for m in self.models:
            m.train(mode)

    def forward(self, x: Tensor) -> Tensor:
        return torch.stack([m(x[i]) for i, m in enumerate(self.models)])

    def forward_shared(self, x: Tensor) -> Tensor:
        return torch.stack([m(x) for m in self.models])


TOGETHER_MODES = ("auto", "vmap", "loop", "sequential")


def _make_group(arch: str, real: RealData, k: int, device: torch.device, mode: str):
    models = [get_network(arch, real.channels, real.num_classes, real.image_size).to(device) for _ in range(k)]
    if mode == "vmap" and not has_batchnorm(models[0]):
        return _StackedModels(models)
    return _ModelLoop(models)


def _resolve_mode(together: str, device: torch.device) -> str:
    # vmap turns K convolutions into one grouped convolution: a win on GPUs, but on CPUs, where
    # training is compute-bound, oneDNN's grouped kernels are slower than K plain ones.
    if together not in TOGETHER_MODES:
        raise ValueError(f"unknown together mode {together!r}; valid choices: {', '.join(TOGETHER_MODES)}")
    if together == "auto":
        return "vmap" if device.type == "cuda" else "loop"
    return together


def _soft_or_hard_ce(logits: Tensor, targets: Tensor) -> Tensor:
    return F.cross_entropy(logits, targets)  # float targets are probabilities (soft labels)


@torch.no_grad()
def _test_accuracies(group, real: RealData, batch: int = 1000) -> list[float]:
    group.train(False)
    correct = torch.zeros(group.k, device=real.test_images.device)
    for start in range(0, len(real.test_labels), batch):
        x = real.test_images[start:start + batch]
        y = real.test_labels[start:start + batch]
        correct += (group.forward_shared(x).argmax(-1) == y).sum(-1)
    group.train(True)
    return (correct / len(real.test_labels) * 100).tolist()


def train_and_test(images: Tensor, targets: Tensor, real: RealData, *, arch: str = "convnet", models: int = 5,
                   protocol: str = "dsa", epochs: int | None = None, device: str | torch.device = "cpu",
                   seed: int = 0, together: str = "auto", progress: bool = True) -> dict[str, Any]:
    """Train ``models`` fresh ``arch`` networks on ``(images, targets)`` and test them on ``real``.

    Args:
        images: training images ``[n, C, H, W]`` in ``real``'s normalised space (already decoded).
        targets: int64 labels ``[n]`` or soft labels ``[n, classes]``.
        real: the real dataset whose test split scores the networks.
        protocol: a name from `list_protocols()`. epochs: override the protocol's epochs.
        together: how the K networks share the process: ``vmap`` (stacked parameters, one vmap'd
            step), ``loop`` (one step of each network per batch, interleaved), ``sequential`` (one
            network after another) or ``auto`` (vmap on CUDA, loop on CPU).

    Returns:
        ``mean``, ``std`` (population std, %), ``accuracies`` and the settings that produced them.
    """
    proto = PROTOCOLS.get(protocol)
    device = torch.device(device)
    real = real.to(device)
    images, targets = images.detach().to(device), targets.detach().to(device)
    per_class = max(1, math.ceil(len(images) / real.num_classes))
    n_epochs = epochs if epochs is not None else proto.epochs(real.name, real.num_classes, per_class)
    aug = proto.augmentation(real)
    cutmix_p = proto.cutmix_p(real)
    start = time.perf_counter()
    torch.manual_seed(seed)  # initialisations
    gen = torch.Generator().manual_seed(seed + 1)  # shuffling and augmentation (CPU, device independent)
    accuracies: list[float] = []
    mode = _resolve_mode(together, device)
    groups = [1] * models if mode == "sequential" else [models]
    bar = tqdm(total=n_epochs * len(groups), desc=f"eval {arch} x{models} ({protocol})", disable=not progress, leave=False)
    for size in groups:
        group = _make_group(arch, real, size, device, mode)
        _train_group(group, images, targets, real, proto, n_epochs, aug, cutmix_p, gen, bar)
        accuracies += _test_accuracies(group, real)
    bar.close()
    return {
        "mean": float(np.mean(accuracies)), "std": float(np.std(accuracies)), "accuracies": accuracies,
        "arch": arch, "protocol": protocol, "epochs": n_epochs, "models": models, "batch_size": proto.batch_size,
        "augmentation": repr(aug) if aug else None, "cutmix_p": cutmix_p, "train_images": len(images),
        "dataset": real.name, "device": str(device), "seed": seed, "together": mode,
        "seconds": round(time.perf_counter() - start, 2),
    }


def _train_group(group, images: Tensor, targets: Tensor, real: RealData, proto: Protocol, n_epochs: int,
                 aug: DiffAugment | None, cutmix_p: float, gen: torch.Generator, bar: tqdm) -> None:
    def make_optimizer(lr: float) -> torch.optim.Optimizer:
        return torch.optim.SGD(group.parameters(), lr=lr, momentum=proto.momentum, weight_decay=proto.weight_decay)

    lr = proto.lr
    optimizer = make_optimizer(lr)
    decay_at = {max(1, int(n_epochs * m)) for m in proto.milestones}
    n, k = len(images), group.k
    for epoch in range(n_epochs):
        if epoch in decay_at:
            lr *= proto.gamma
            if proto.reset_optimizer:
                optimizer = make_optimizer(lr)
            else:
                for param_group in optimizer.param_groups:
                    param_group["lr"] = lr
        order = torch.stack([torch.randperm(n, generator=gen) for _ in range(k)]).to(images.device)
        for s in range(0, n, proto.batch_size):
            idx = order[:, s:s + proto.batch_size]
            xb, yb = images[idx], targets[idx]
            if aug is not None:
                xb = torch.stack([aug(xb[i], gen) for i in range(k)])
            mixes = [None] * k
            if cutmix_p > 0:
                for i in range(k):
                    if float(torch.rand(1, generator=gen)) < cutmix_p:
                        mixed, perm, r = cutmix(xb[i], gen)
                        xb = xb.index_copy(0, torch.tensor([i], device=xb.device), mixed.unsqueeze(0))
                        mixes[i] = (perm, r)
            logits = group.forward(xb)
            loss = logits.new_zeros(())
            for i in range(k):
                if mixes[i] is None:
                    loss = loss + _soft_or_hard_ce(logits[i], yb[i])
                else:
                    perm, r = mixes[i]
                    loss = loss + r * _soft_or_hard_ce(logits[i], yb[i]) + (1 - r) * _soft_or_hard_ce(logits[i], yb[i][perm])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        bar.update(1)
        bar.set_postfix(loss=f"{loss.item() / k:.3f}")


def default_protocol(method: str) -> str:
    """The evaluation protocol a method's paper used."""
    from .recipes import get_method

    return get_method(method).protocol


def evaluate(cset: CondensedSet, real: RealData, **kwargs: Any) -> dict[str, Any]:
    """Evaluate a condensed set (decoded through its decoder) with `train_and_test`.

    ``protocol`` defaults to the protocol of the set's method; other keyword arguments pass through.
    """
    kwargs.setdefault("protocol", default_protocol(cset.method))
    with torch.no_grad():
        images, targets = cset.decode()
    return train_and_test(images, targets, real, **kwargs)
