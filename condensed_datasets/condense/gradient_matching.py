"""The gradient-matching loop shared by DC, DSA and multi-level gradient matching (DCMG).

Per iteration a fresh network is drawn; for ``outer_loop`` steps the synthetic images of every class
are updated so that the network's gradient on them matches its gradient on a real batch of the same
class, and between those steps the network trains on the synthetic set for ``inner_steps(t)`` epochs.
Config keys: ``arch``, ``init`` (noise|real), ``lr_img``, ``lr_net``, ``net_momentum``, ``batch_real``,
``batch_train``, ``outer_loop``, ``inner_loop``, ``iterations``, ``metric``, ``metric_weight``,
``dsa_strategy`` (``None``: no augmentation), ``inter_class_weight`` (0 for DC/DSA; DCMG: the
number of classes) and ``adaptive_inner`` (DCMG's schedule).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from condensed_datasets.condense.checkpoint import RecipeState
from condensed_datasets.condense.distances import compared_parameters, gradient_distance
from condensed_datasets.condense.frame import Setup
from condensed_datasets.condense.matching_pass import (
    can_compile_matching,
    class_distance,
    class_gradients,
)
from condensed_datasets.condense.sampling import init_images, sample_class
from condensed_datasets.condense.settings import RunOptions
from condensed_datasets.core.condensed_set import class_major_labels
from condensed_datasets.training.augment import DiffAugment
from condensed_datasets.training.compilation import (
    compiled,
    matching_compilation,
    training_compilation,
)
from condensed_datasets.training.devices import to_device
from condensed_datasets.training.nets import get_network, has_batchnorm
from condensed_datasets.training.precision import compute_in, resolve_train_precision
from condensed_datasets.training.sources import RealData

# (outer_loop, inner_loop) per IPC, from the reference code (`get_loops`).
LOOPS = {1: (1, 1), 10: (10, 50), 20: (20, 25), 30: (30, 20), 40: (40, 15), 50: (50, 10)}


def loops_for(ipc: int) -> tuple[int, int]:
    """The reference (outer, inner) loops; other IPCs take the next listed IPC's, (50, 10) above 50."""
    return next((LOOPS[k] for k in sorted(LOOPS) if k >= ipc), (50, 10))


def adaptive_inner_steps(t: int) -> int:
    """DCMG's schedule zeta(t): 50 - 10t for t < 4, 10 for 4 <= t < 10, 5 after."""
    return 50 - 10 * t if t < 4 else (10 if t < 10 else 5)


def _freeze_batchnorm(net: nn.Module, real: RealData, generator: torch.Generator) -> None:
    """Reference BN handling: update running stats on 16 real images per class, then freeze them."""
    net.train()
    with torch.no_grad():
        net(torch.cat([sample_class(real, c, 16, generator) for c in range(real.num_classes)]))
    for m in net.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()


def matching_loss(net: nn.Module, params: list[Tensor], images: Tensor, real: RealData, ipc: int,
                  config: dict[str, Any], aug: DiffAugment | None, generator: torch.Generator,
                  compiled: bool = False) -> Tensor:
    """Sum over classes of the gradient distance, plus the weighted inter-class term of the class means.

    ``compiled``: each class's distance through the compiled pass (`matching_pass`; not with the inter-class term,
    which needs the gradients themselves)."""
    metric, weight = config["metric"], float(config.get("metric_weight", 1.0))
    loss = images.new_zeros(())
    sum_real: list[Tensor] | None = None
    sum_syn: list[Tensor] | None = None
    for c in range(real.num_classes):
        real_c = sample_class(real, c, config["batch_real"], generator)
        syn_c = images[c * ipc:(c + 1) * ipc]
        if aug is not None:
            draw = aug.sample(len(real_c), real.image_size, generator, shared=True)
            real_c, syn_c = draw(real_c), draw(syn_c)
        if not config.get("inter_class_weight", 0):
            loss = loss + class_distance(net, params, real_c, syn_c, c, metric, weight, compiled)
        else:
            g_real = class_gradients(net, params, real_c, c, create_graph=False)
            g_syn = class_gradients(net, params, syn_c, c, create_graph=True)
            loss = loss + gradient_distance(g_syn, g_real, metric, weight)
            sum_real = g_real if sum_real is None else [a + b for a, b in zip(sum_real, g_real)]
            sum_syn = g_syn if sum_syn is None else [a + b for a, b in zip(sum_syn, g_syn)]
    if sum_real is not None and sum_syn is not None:
        n = real.num_classes
        loss = loss + config["inter_class_weight"] * gradient_distance([g / n for g in sum_syn], [g / n for g in sum_real], metric, weight)
    return loss


def train_on_synthetic(net: nn.Module, optimizer: torch.optim.Optimizer, images: Tensor, labels: Tensor, epochs: int,
                       batch: int, aug: DiffAugment | None, generator: torch.Generator,
                       dtype: torch.dtype = torch.float32) -> None:
    """The inner loop: ``epochs`` shuffled passes of cross-entropy over the (detached) synthetic set.

    ``dtype`` other than float32 runs each forward under autocast (`precision.compute_in`): float32
    weights, optimiser and loss."""
    net.train()
    for _ in range(epochs):
        order = to_device(torch.randperm(len(images), generator=generator), images.device)
        for s in range(0, len(images), batch):
            idx = order[s:s + batch]
            x = images[idx] if aug is None else aug(images[idx], generator)
            with compute_in(dtype, x.device):
                out = net(x).float()
            loss = F.cross_entropy(out, labels[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()


def gradient_matching_setup(real: RealData, ipc: int, config: dict[str, Any], run: RunOptions,
                            generator: torch.Generator) -> Setup:
    """The gradient-matching loop of DC, DSA and DCMG (their configs tell them apart), for the recipe frame."""
    device = run.torch_device
    images = init_images(real, ipc, config["init"], generator).to(device).requires_grad_(True)
    state = RecipeState(images, torch.optim.SGD([images], lr=config["lr_img"], momentum=0.5), generator)
    labels = class_major_labels(real.num_classes, ipc, device)
    aug = DiffAugment(config["dsa_strategy"]) if config.get("dsa_strategy") else None
    outer = int(config["outer_loop"])
    # The inner loop trains the network only between outer steps: with one outer step (IPC 1) there is none.
    train_dtype, recorded = resolve_train_precision(run.train_precision if outer > 1 else "fp32", device)

    def inner_epochs(t: int) -> int:
        return adaptive_inner_steps(t) if config.get("adaptive_inner") else int(config["inner_loop"])

    trained_pixels = (int(config["iterations"]) * sum(inner_epochs(t) for t in range(outer - 1)) * len(labels)
                      * real.image_size[0] * real.image_size[1])
    compile_training, compile_record = training_compilation(run.train_compilation, device, trained_pixels, train_dtype)
    matched_pixels = (int(config["iterations"]) * outer * (real.num_classes * config["batch_real"] + len(labels))
                      * real.image_size[0] * real.image_size[1])
    compile_matching, match_record = matching_compilation(
        run.match_compilation, device, matched_pixels,
        can_compile_matching(config["arch"], real.channels, real.num_classes, real.image_size)
        and not config.get("inter_class_weight", 0))

    def step(it: int) -> float:
        net = get_network(config["arch"], real.channels, real.num_classes, real.image_size).to(device)
        params = list(net.parameters())
        matched = compared_parameters(config["metric"], params)
        net_opt = torch.optim.SGD(params, lr=config["lr_net"], momentum=config.get("net_momentum", 0.0))
        trainer = compiled(net, compile_training)  # the same network; its matching passes stay eager (double backward)
        total = 0.0
        for t in range(outer):
            if has_batchnorm(net):
                _freeze_batchnorm(net, real, generator)
            loss = matching_loss(net, matched, images, real, ipc, config, aug, generator, compile_matching)
            state.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            state.optimizer.step()
            total += float(loss.detach())
            if t == outer - 1:
                break
            train_on_synthetic(trainer, net_opt, images.detach(), labels, inner_epochs(t), config["batch_train"], aug,
                               generator, dtype=train_dtype)
        return total / outer

    return Setup(state, step, labels, identity=recorded, compiled={**compile_record, **match_record}, config=config)


GM_DEFAULTS: dict[str, Any] = {
    "arch": "convnet", "init": "noise", "lr_img": 0.1, "lr_net": 0.01, "net_momentum": 0.0, "batch_real": 256,
    "batch_train": 256, "iterations": 1000, "metric": "dc", "metric_weight": 0.0, "dsa_strategy": None,
    "inter_class_weight": 0.0, "adaptive_inner": False,
}


# digits IPC 10 (ours: no paper defines digits): an iteration of 10 outer x 50 inner loops takes ~10 s on a 2-core
# CPU, so 100 iterations (~20 min) from real images, which noise cannot catch up with in so few.
DIGITS_IPC10: dict[str, Any] = {"init": "real", "iterations": 100}


def gm_loops(ipc: int) -> dict[str, int]:
    """The reference (outer, inner) loop counts for an IPC."""
    outer, inner = loops_for(ipc)
    return {"outer_loop": outer, "inner_loop": inner}
