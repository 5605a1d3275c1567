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
import os
import time
from contextlib import nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import Tensor, nn
from torch.func import functional_call, stack_module_state, vmap
from torch.nn import functional as F
from tqdm.auto import tqdm

from condensed_datasets.core.condensed_set import CondensedSet
from condensed_datasets.core.errors import RunStopped, check_choice
from condensed_datasets.core.methods import method_paper
from condensed_datasets.core.registry import Registry
from condensed_datasets.core.stops import stop_requests
from condensed_datasets.training.allocator import keep_freed_memory
from condensed_datasets.training.augment import DiffAugment, cutmix
from condensed_datasets.training.compilation import compiled, resolve_compilation
from condensed_datasets.training.devices import autotune_convolutions, to_device
from condensed_datasets.training.eval_augment import DCAugment
from condensed_datasets.training.eval_checkpoint import (
    EvalProgress,
    evaluation_identity,
    resume_progress,
    save_progress,
)
from condensed_datasets.training.nets import get_network, has_batchnorm
from condensed_datasets.training.precision import (
    chunk_size,
    compute_in,
    precision_name,
    real_pass_network,
    resolve_precision,
    warn_if_slow_training,
)
from condensed_datasets.training.sources import RealData

GRAY_DIGITS = ("mnist", "digits")


@dataclass(frozen=True)
class SetTraits:
    """What an evaluation protocol may depend on besides the dataset: the set's multi-formation factor and IPC."""

    factor: int = 1
    ipc: int | None = None


@dataclass(frozen=True)
class Protocol:
    """How a set is evaluated: epochs, optimiser, schedule, batch size and augmentation."""

    name: str
    description: str
    batch_size: int
    epochs: Callable[[str, int, int], int]  # (dataset name, classes, training images per class) -> epochs
    augmentation: Callable[[RealData, SetTraits], Callable | None]
    milestones: tuple[float, ...]  # fractions of the epochs where the lr is multiplied by gamma
    gamma: float
    reset_optimizer: bool  # VICO re-creates the optimiser (momentum reset) at the decay
    cutmix_p: Callable[[RealData, SetTraits], float] = lambda real, traits: 0.0
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4


PROTOCOLS: Registry[Protocol] = Registry("protocol")


def _dc_aug(real: RealData, traits: SetTraits) -> Callable | None:
    # DC augments only MNIST: one of crop / scale / rotate per image (VICO utils.py `augment`, `get_daparam`).
    return DCAugment() if real.name in GRAY_DIGITS else None


def _idc_epochs(dataset: str, num_classes: int, per_class: int) -> int:
    # IDC argument.py l.436-446: every non-ImageNet dataset trains 1000 epochs; `ipc_epoch` (l.22-47) is ImageNet's.
    if not dataset.startswith("imagenet"):
        return 1000
    table = ((1, 3000), (10, 2000), (50, 1500), (200, 1000), (500, 500))
    epochs = next((e for limit, e in table if per_class <= limit), 300)
    if num_classes >= 100:
        epochs = (epochs * 2 // 3) // 100 * 100
    return epochs


def _idc_variant(real: RealData, traits: SetTraits) -> tuple[str, float]:
    """IDC's evaluation DSA strategy and CutMix probability for one set.

    snu-mllab/Efficient-Dataset-Condensation misc/reproduce.py l.16-30: SVHN with factor 1 at IPC 1 is
    evaluated without CutMix and with ``color_crop_cutout_scale_rotate``; MNIST with factor > 1 without
    CutMix and with ``color_crop_scale_rotate``. Otherwise argument.py l.264-296 (mix_p 0.5; no flip on
    SVHN/MNIST) and l.451-452 (CutMix replaces cutout). IDC-I (factor 1) on MNIST keeps CutMix.
    """
    if real.name == "svhn" and traits.factor == 1 and traits.ipc == 1:
        return "color_crop_cutout_scale_rotate", 0.0
    if real.name in GRAY_DIGITS and traits.factor > 1:
        return "color_crop_scale_rotate", 0.0
    return "_".join(op for op in real.dsa_strategy.split("_") if op != "cutout"), 0.5


PROTOCOLS.register("dc", Protocol(
    "dc", "DC (ICLR'21): 300 epochs (1000 with MNIST augmentation), batch 256, lr 0.01 x0.1 at half",
    256, lambda dataset, classes, n: 1000 if dataset in GRAY_DIGITS else 300, _dc_aug, (0.5,), 0.1, True,
))
PROTOCOLS.register("dsa", Protocol(
    "dsa", "DSA/DM/IDM: 1000 epochs with DSA augmentation, batch 256, lr 0.01 x0.1 at half",
    256, lambda dataset, classes, n: 1000, lambda real, traits: DiffAugment(real.dsa_strategy), (0.5,), 0.1, True,
))
PROTOCOLS.register("idc", Protocol(
    "idc", "IDC (ICML'22): 1000 epochs (ImageNet: by set size), batch 64, IDC augmentation + CutMix p=0.5, lr x0.2 at 2/3 and 5/6",
    64, _idc_epochs, lambda real, traits: DiffAugment(_idc_variant(real, traits)[0], composition="idc"), (2 / 3, 5 / 6), 0.2,
    False, cutmix_p=lambda real, traits: _idc_variant(real, traits)[1],
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

    def tester(self, dtype: torch.dtype) -> Callable[[Tensor], Tensor]:
        """``forward_shared`` in ``dtype`` (autocast: the stacked parameters stay float32)."""
        def test(x: Tensor) -> Tensor:
            with compute_in(dtype, x.device):
                return self.forward_shared(x).float()
        return test


class _ModelLoop:
    """The same interface over a plain list of models (BatchNorm nets, and the sequential baseline);
    with ``compile_nets``, their passes run through ``torch.compile`` (`compilation`)."""

    def __init__(self, models: list[nn.Module], compile_nets: bool = False) -> None:
        self.models = models
        self.k = len(models)
        self.compile_nets = compile_nets
        self._forwards = [compiled(m, compile_nets) for m in models]

    def parameters(self) -> list[Tensor]:
        return [p for m in self.models for p in m.parameters()]

    def train(self, mode: bool = True) -> None:
        for m in self.models:
            m.train(mode)

    def forward(self, x: Tensor) -> Tensor:
        return torch.stack([f(x[i]) for i, f in enumerate(self._forwards)])

    def forward_shared(self, x: Tensor) -> Tensor:
        return torch.stack([f(x) for f in self._forwards])

    def tester(self, dtype: torch.dtype) -> Callable[[Tensor], Tensor]:
        """``forward_shared`` on copies of the models cast to ``dtype`` (bf16 pools as depthwise convolutions; the
        speed is measured in docs/performance.md)."""
        nets = [compiled(real_pass_network(m, dtype), self.compile_nets) for m in self.models]
        return lambda x: torch.stack([net(x.to(dtype)).float() for net in nets])


TOGETHER_MODES = ("auto", "vmap", "loop", "sequential")


def _make_group(arch: str, real: RealData, k: int, device: torch.device, mode: str, compile_nets: bool):
    models = [get_network(arch, real.channels, real.num_classes, real.image_size).to(device) for _ in range(k)]
    if mode == "vmap" and not has_batchnorm(models[0]):
        return _StackedModels(models)
    return _ModelLoop(models, compile_nets)


def _resolve_mode(together: str, device: torch.device) -> str:
    # vmap turns K convolutions into one grouped convolution: a win on GPUs, but on CPUs, where
    # training is compute-bound, oneDNN's grouped kernels are slower than K plain ones. Interleaving the
    # K networks' steps (loop) does not pay on CPUs either: with the same arithmetic one network after
    # another was as fast or faster, in less memory, on every CPU measured (`benchmarks/eval_speed.py`; the
    # figures are in benchmarks/README.md).
    check_choice("together mode", together, TOGETHER_MODES)
    if together == "auto":
        return "vmap" if device.type == "cuda" else "sequential"
    return together


def _soft_or_hard_ce(logits: Tensor, targets: Tensor) -> Tensor:
    return F.cross_entropy(logits.float(), targets)  # float targets are probabilities (soft labels)


@torch.no_grad()
def _test_accuracies(group, real: RealData, dtype: torch.dtype) -> list[float]:
    group.train(False)
    test = group.tester(dtype)
    batch = chunk_size(real.test_images)  # cache-sized activations (see `precision.chunk_size`)
    correct = torch.zeros(group.k, device=real.test_images.device)
    for start in range(0, len(real.test_labels), batch):
        x = real.test_images[start:start + batch]
        y = real.test_labels[start:start + batch]
        correct += (test(x).argmax(-1) == y).sum(-1)
    group.train(True)
    return (correct / len(real.test_labels) * 100).tolist()


@dataclass(frozen=True)
class EvalSettings:
    """How an evaluation runs; one object from the command line (``eval``, ``build --eval``, ``collection build``)
    to `train_and_test`.

    Args:
        arch: the network trained (``None``: the one the set was condensed with; ``convnet`` for bare tensors).
        models: networks trained from scratch (K).
        protocol: a name from `list_protocols()` (``None``: the set's; ``dsa`` for bare tensors).
        epochs: override the protocol's epochs (fewer: a reduced evaluation, recorded as such).
        device, seed: where and with which seed.
        together: how the K networks share the process: ``vmap`` (stacked parameters, one vmap'd
            step), ``loop`` (one step of each network per batch, interleaved), ``sequential`` (one
            network after another) or ``auto`` (vmap on CUDA, sequential on CPU).
        precision: ``fp32`` (the papers), ``bf16`` (each training forward under bf16 autocast, float32 master
            weights and loss; test passes on bf16 copies) or ``auto`` (bf16 on a CPU with AVX512-BF16, else
            fp32; `precision.resolve_precision`). Recorded in the result.
        compilation: ``on`` (each network's passes through ``torch.compile``; not with ``together="vmap"``),
            ``off`` or ``auto`` (`compilation.resolve_compilation`). Recorded in the result as ``compiled``.
    """

    arch: str | None = None
    models: int = 5
    protocol: str | None = None
    epochs: int | None = None
    device: str = "cpu"
    seed: int = 0
    together: str = "auto"
    precision: str = "auto"
    compilation: str = "auto"


def train_and_test(images: Tensor, targets: Tensor, real: RealData, settings: EvalSettings | None = None, *,
                   traits: SetTraits = SetTraits(), progress: bool = True, checkpoint: str | os.PathLike | None = None,
                   **fields: Any) -> dict[str, Any]:
    """Train ``models`` fresh ``arch`` networks on ``(images, targets)`` and test them on ``real``.

    Args:
        images: training images ``[n, C, H, W]`` in ``real``'s normalised space (already decoded).
        targets: int64 labels ``[n]`` or soft labels ``[n, classes]``.
        real: the real dataset whose test split scores the networks.
        settings: how (`EvalSettings`); ``fields`` override single settings (``models=1, epochs=3``).
        traits: the set's multi-formation factor and IPC, for protocols that depend on them (IDC).
        checkpoint: a file that makes the evaluation resumable (`eval_checkpoint`): written after each network
            but the last, continued from when it belongs to this evaluation, removed at the end. While it runs,
            a SIGTERM stops it after the current network (`RunStopped`), its progress written. Networks trained
            together (``vmap``, ``loop``) have no boundary between them: a SIGTERM ends such an evaluation at once.

    Returns:
        ``mean``, ``std`` (population std, %) and ``accuracies`` of the networks after the last epoch
        (the honest number, reported by VICO), ``best_of_periodic`` (each network's best test accuracy over
        `PERIODIC_TESTS` evaluations during training, ``epochs`` listing when: how IDC and IDM report,
        optimistic) and the settings that produced them.
    """
    s = replace(settings or EvalSettings(), **fields)
    arch, models, protocol, epochs, seed = s.arch or "convnet", s.models, s.protocol or "dsa", s.epochs, s.seed
    together, precision, compilation = s.together, s.precision, s.compilation
    proto = PROTOCOLS.get(protocol)
    device = torch.device(s.device)
    keep_freed_memory()
    autotune_convolutions(device)
    dtype = resolve_precision(precision, device)
    warn_if_slow_training(dtype, device, "--precision")
    real = real.to(device)
    images, targets = images.detach().to(device), targets.detach().to(device)
    n_epochs = epochs if epochs is not None else full_epochs(protocol, real.name, real.num_classes, len(images))
    aug = proto.augmentation(real, traits)
    cutmix_p = proto.cutmix_p(real, traits)
    test_at = periodic_epochs(n_epochs)
    start = time.perf_counter()
    torch.manual_seed(seed)  # initialisations
    gen = torch.Generator().manual_seed(seed + 1)  # shuffling and augmentation (CPU, device independent)
    mode = _resolve_mode(together, device)
    trained_pixels = n_epochs * len(images) * images.shape[-2] * images.shape[-1] * models
    compile_nets = mode != "vmap" and resolve_compilation(compilation, device, trained_pixels, dtype)
    groups = [1] * models if mode == "sequential" else [models]
    source = real.source_record()  # the copy tested on
    identity = evaluation_identity(images, targets, {
        "arch": arch, "models": models, "protocol": protocol, "epochs": n_epochs, "seed": seed, "together": mode,
        "precision": precision_name(dtype), "compiled": compile_nets, "device": device.type, "dataset": real.name,
        "augmentation": repr(aug), "cutmix_p": cutmix_p, **source})
    done = resume_progress(checkpoint, identity, models, gen) if checkpoint is not None else EvalProgress(identity, models)
    first = done.done  # checkpoints fall between groups, which are single networks when there are several
    bar = tqdm(total=n_epochs * len(groups), initial=n_epochs * first, desc=f"eval {arch} x{models} ({protocol})",
               disable=not progress, leave=False)
    resumable = checkpoint is not None and len(groups) > 1  # networks trained together (vmap, loop) have no boundary
    with stop_requests() if resumable else nullcontext(lambda: False) as stop_requested:
        for number, size in enumerate(groups[first:], start=first):
            group = _make_group(arch, real, size, device, mode, compile_nets)
            tests: list[list[float]] = []
            _train_group(group, images, targets, real, proto, n_epochs, aug, cutmix_p, gen, bar, dtype,
                         lambda epoch: tests.append(_test_accuracies(group, real, dtype)) if epoch in test_at else None)
            done.accuracies += tests[-1]
            done.periodic += [list(per_net) for per_net in zip(*tests)]
            if resumable and number + 1 < len(groups):
                save_progress(checkpoint, replace(done, seconds=done.seconds + time.perf_counter() - start), gen)
                if stop_requested():
                    bar.close()
                    raise RunStopped(f"evaluation stopped on request (SIGTERM) after {done.done} of {models} "
                                     f"networks; they are kept in {checkpoint}, which the next run continues")
    bar.close()
    if checkpoint is not None:
        Path(checkpoint).unlink(missing_ok=True)
    accuracies, periodic = done.accuracies, done.periodic
    best = [max(per_net) for per_net in periodic]
    return {
        "mean": float(np.mean(accuracies)), "std": float(np.std(accuracies)), "accuracies": accuracies,
        "best_of_periodic": {"mean": float(np.mean(best)), "std": float(np.std(best)), "accuracies": best,
                             "epochs": sorted(test_at)},
        "arch": arch, "protocol": protocol, "epochs": n_epochs, "models": models, "batch_size": proto.batch_size,
        "augmentation": repr(aug) if aug else None, "cutmix_p": cutmix_p, "train_images": len(images),
        "dataset": real.name, "device": str(device), "seed": seed, "together": mode,
        "precision": precision_name(dtype), "compiled": compile_nets, **source,
        "seconds": round(done.seconds + time.perf_counter() - start, 2),
        **({"resumed_after_networks": first} if first else {}),
    }


def full_epochs(protocol: str, dataset: str, num_classes: int, train_images: int) -> int:
    """The epochs ``protocol`` prescribes for ``train_images`` training images (fewer: a reduced evaluation)."""
    per_class = max(1, math.ceil(train_images / num_classes))
    return PROTOCOLS.get(protocol).epochs(dataset, num_classes, per_class)


PERIODIC_TESTS = 4


def periodic_epochs(n_epochs: int) -> set[int]:
    """The epochs (1-based, after training them) at which networks are tested: ``PERIODIC_TESTS`` evenly spaced, the last included."""
    return {max(1, round(n_epochs * (i + 1) / PERIODIC_TESTS)) for i in range(PERIODIC_TESTS)}


def _train_group(group, images: Tensor, targets: Tensor, real: RealData, proto: Protocol, n_epochs: int,
                 aug: Callable | None, cutmix_p: float, gen: torch.Generator, bar: tqdm, dtype: torch.dtype,
                 after_epoch: Callable[[int], None] = lambda epoch: None) -> None:
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
        order = to_device(torch.stack([torch.randperm(n, generator=gen) for _ in range(k)]), images.device)
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
            with compute_in(dtype, xb.device):
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
        after_epoch(epoch + 1)


def default_protocol(cset: CondensedSet) -> str:
    """The evaluation protocol of a set: the one it recorded when built, else its method's paper's."""
    return cset.meta.get("protocol") or method_paper(cset.method).protocol


def evaluate(cset: CondensedSet, real: RealData, settings: EvalSettings | None = None, *, progress: bool = True,
             checkpoint: str | os.PathLike | None = None, **fields: Any) -> dict[str, Any]:
    """Evaluate a condensed set (decoded through its decoder) with `train_and_test`; the result names the set's
    method and IPC and says whether it was reduced (fewer epochs than its protocol prescribes).

    ``settings`` (with ``fields`` overriding single ones): the protocol defaults to the set's
    (`default_protocol`), the network to the one the set was condensed with (VICO's eval_mode S); the set's
    factor and IPC select protocol variants. ``checkpoint`` makes it resumable (see `train_and_test`).
    """
    s = replace(settings or EvalSettings(), **fields)
    s = replace(s, protocol=s.protocol or default_protocol(cset),
                arch=s.arch or cset.meta.get("config", {}).get("arch", "convnet"))
    with torch.no_grad():
        images, targets = cset.decode()
    traits = SetTraits(int(cset.decoder.params.get("factor", 1)), cset.ipc)
    result = train_and_test(images, targets, real, s, traits=traits, progress=progress, checkpoint=checkpoint)
    full = full_epochs(result["protocol"], cset.dataset, cset.num_classes, result["train_images"])
    result.update(method=cset.method, ipc=cset.ipc, reduced_epochs=result["epochs"] < full)
    if "source_sha256" in cset.meta:  # the copy the set was built from, beside the one it was tested on
        result["set_source_sha256"] = cset.meta["source_sha256"]
    return result
