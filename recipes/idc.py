"""``idc`` and ``idc-i``: Dataset Condensation via Efficient Synthetic-Data Parameterization (Kim et al., ICML 2022).

IDC stores ``ipc`` images per class and trains on their multi-formation decoding: every stored
image split into an f x f grid, each part upsampled back to full size (f = 2 for images up to 32 px,
3 above) - through the very `multi_formation` decoder the loader uses, so what is optimised is what
users get. ``idc-i`` is the same algorithm with the identity decoder (f = 1).

The loop (`methods.md` §4.5, reference ``condense.py`` with ``--reproduce``), flattened so that one
``--iterations`` unit is one matching round: every ``inner_loop`` rounds the ConvNet is re-initialised
(and the images clamped to the valid pixel range); in each round, for every class, the real batch
and the decoded synthetic images (at most 128) are augmented with ONE shared draw of IDC's DSA
composition, and the distance (``mse`` for CIFAR/SVHN, ``l1`` for MNIST-like data) between the
conv-weight gradients is minimised (one image step per class); then the network trains on real data
(``n_data`` samples, IDC augmentation + CutMix) - matching on networks that learn from real data.

Normalised storage: IDC optimises pixel-space images; we optimise the normalised ones, so the
reference learning rate is divided by ``mean(std)^2`` (a step of the same size in pixel space).
The initialisation is the reference's deterministic one: the first ``ipc * f^2`` training images of
each class, downscaled into the f x f grid of each stored image.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch.nn import functional as F

from condensed_datasets.condense.checkpoint import (
    RecipeState,
    load_module_tensors,
    module_tensors,
)
from condensed_datasets.condense.frame import Setup
from condensed_datasets.condense.matching_pass import (
    can_compile_matching,
    class_distance,
)
from condensed_datasets.condense.sampling import sample_class, train_on_real
from condensed_datasets.condense.settings import RunOptions
from condensed_datasets.core.condensed_set import (
    DecoderSpec,
    class_major_labels,
)
from condensed_datasets.core.decoders import decode, multi_formation_spec
from condensed_datasets.training.augment import DiffAugment
from condensed_datasets.training.compilation import (
    compiled,
    matching_compilation,
    training_compilation,
)
from condensed_datasets.training.devices import to_device
from condensed_datasets.training.nets import get_network
from condensed_datasets.training.precision import resolve_train_precision
from condensed_datasets.training.sources import RealData

from . import Method, register_method

MNIST_LIKE = ("mnist", "fashion-mnist", "digits")


def mix_init(real: RealData, ipc: int, factor: int) -> torch.Tensor:
    """Stored image j of class c holds real images k*ipc + j (k = 0..f^2-1, the first of the class) in its grid.

    The official ``init(..., 'mix')`` (`condense.py` l.63-66) takes the class's first ipc*f^2 images and
    assumes the class has them; a class with fewer (digits at IPC 50 with f = 2: 200 of ~134) starts
    over from its first image, so each real image appears at most ceil(ipc*f^2 / n) times.
    """
    h, w = real.image_size
    rows = [h // factor + (1 if i < h % factor else 0) for i in range(factor)]
    cols = [w // factor + (1 if i < w % factor else 0) for i in range(factor)]
    out = torch.empty(real.num_classes * ipc, real.channels, h, w, device=real.train_images.device)
    for c in range(real.num_classes):
        members = real.class_indices[c]
        first = real.train_images[members[torch.arange(ipc * factor * factor) % len(members)]]
        for k in range(factor * factor):
            i, j = divmod(k, factor)
            top, left = sum(rows[:i]), sum(cols[:j])
            part = F.interpolate(first[k * ipc:(k + 1) * ipc], size=(rows[i], cols[j]), mode="nearest")
            out[c * ipc:(c + 1) * ipc, :, top:top + rows[i], left:left + cols[j]] = part
    return out


def setup(real: RealData, ipc: int, config: dict[str, Any], run: RunOptions, generator: torch.Generator) -> Setup:
    """IDC (``factor`` > 1) or IDC-I (``factor`` = 1)."""
    device = run.torch_device
    factor = int(config["factor"])
    spec = multi_formation_spec(factor, real.mean, real.std) if factor > 1 else DecoderSpec()
    images = mix_init(real, ipc, factor).to(device).requires_grad_(True)
    # tune_lr_img (argument.py l.50-69): lr_img * ipc / 10 * (size / base)^2, then from [0, 1] pixels to normalised space
    lr = config["lr_img"] * ipc / 10 * config["lr_size_ratio"] / (sum(real.std) / len(real.std)) ** 2
    state = RecipeState(images, torch.optim.SGD([images], lr=lr, momentum=config["mom_img"]), generator)
    labels = class_major_labels(real.num_classes, ipc, device)
    match_aug = DiffAugment(config["aug_type"], composition="idc")
    net_aug = DiffAugment("_".join(t for t in config["aug_type"].split("_") if t != "cutout"), composition="idc")
    low = torch.tensor([(0 - m) / s for m, s in zip(real.mean, real.std)], device=device).view(1, -1, 1, 1)
    high = torch.tensor([(1 - m) / s for m, s in zip(real.mean, real.std)], device=device).view(1, -1, 1, 1)
    net_steps = math.ceil(config["n_data"] / config["batch_real"])
    train_dtype, recorded = resolve_train_precision(run.train_precision, device)
    trained_pixels = int(config["iterations"]) * net_steps * config["batch_real"] * real.image_size[0] * real.image_size[1]
    compile_training, compile_record = training_compilation(run.train_compilation, device, trained_pixels, train_dtype)
    matched_images = real.num_classes * (config["batch_real"] + min(ipc * factor ** 2, config["batch_syn_max"]))
    matched_pixels = int(config["iterations"]) * matched_images * real.image_size[0] * real.image_size[1]
    compile_matching, match_record = matching_compilation(
        run.match_compilation, device, matched_pixels,
        can_compile_matching(config["arch"], real.channels, real.num_classes, real.image_size))
    holder: dict[str, Any] = {}

    def fresh_network() -> None:
        holder["net"] = get_network(config["arch"], real.channels, real.num_classes, real.image_size).to(device)
        holder["trainer"] = compiled(holder["net"], compile_training)  # the same network; matching stays eager
        holder["opt"] = torch.optim.SGD(holder["net"].parameters(), lr=config["lr_net"], momentum=0.9, weight_decay=config["wd_net"])

    def restore_network() -> None:  # resumed in the middle of a network's life
        fresh_network()
        load_module_tensors("net", state.extra, holder["net"], holder["opt"])

    def step(it: int) -> float:
        if it % config["inner_loop"] == 0:
            fresh_network()
            with torch.no_grad():
                images.clamp_(low, high)
        net = holder["net"]
        params = [p for p in net.parameters() if p.ndim >= 3]  # conv weights only (no bias, no fc)
        total = 0.0
        for c in range(real.num_classes):
            real_c = sample_class(real, c, config["batch_real"], generator)
            syn_c, _ = decode(spec, images[c * ipc:(c + 1) * ipc], labels[c * ipc:(c + 1) * ipc])
            if len(syn_c) > config["batch_syn_max"]:
                syn_c = syn_c[to_device(torch.randperm(len(syn_c), generator=generator)[: config["batch_syn_max"]], device)]
            both = match_aug(torch.cat([real_c, syn_c]), generator, shared=True)
            loss = class_distance(net, params, both[:len(real_c)], both[len(real_c):], c, config["metric"],
                                  compiled=compile_matching)
            state.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            state.optimizer.step()
            total += float(loss.detach())
        train_on_real(holder["trainer"], real, net_steps, generator, batch=config["batch_real"], augment=net_aug,
                      cutmix_p=config["mix_p"], optimizer=holder["opt"], dtype=train_dtype)
        state.extra = module_tensors("net", net, holder["opt"])
        return total / real.num_classes

    return Setup(state, step, labels, spec, identity=recorded, compiled={**compile_record, **match_record},
                 on_restore=restore_network, extra_meta=lambda: {"factor": factor})


def _per_dataset(factor: int) -> dict[tuple[str | None, int | None], dict[str, Any]]:
    """Reference settings (`misc/reproduce.py`) per dataset."""
    mnist_like = {"metric": "l1", "lr_img": 1e-4, "n_data": 500}
    if factor > 1:
        mnist_like = {**mnist_like, "aug_type": "color_crop", "mix_p": 0.0}
    table: dict[tuple[str | None, int | None], dict[str, Any]] = {(d, None): mnist_like for d in MNIST_LIKE}
    # argument.py l.48-69: only 'mnist' has base size 28; FashionMNIST (28 px) is scaled against 32: (28/32)^2
    table[("fashion-mnist", None)] = {"metric": "l1", "lr_img": 1e-4, "n_data": 500, "lr_size_ratio": (28 / 32) ** 2}
    table[("svhn", None)] = {"metric": "mse", "lr_img": 5e-3, "n_data": 500}
    table[("tinyimagenet", None)] = {"metric": "l1", "lr_img": 3e-3, "n_data": 500}
    table[("digits", None)] = {**mnist_like, "batch_real": 32, "n_data": 64, "inner_loop": 20, "iterations": 200}
    return table


IDC_DEFAULTS: dict[str, Any] = {
    "arch": "convnet", "metric": "mse", "lr_img": 5e-3, "mom_img": 0.5, "batch_real": 64, "batch_syn_max": 128,
    "n_data": 2000, "inner_loop": 100, "iterations": 200_000, "aug_type": "color_crop_cutout", "mix_p": 0.5,
    "lr_net": 0.01, "wd_net": 5e-4, "lr_size_ratio": 1.0,
}
register_method(Method(
    name="idc", setup=setup, defaults={**IDC_DEFAULTS, "factor": 2}, iterations_key="iterations",
    published={**_per_dataset(2), ("tinyimagenet", None): {**_per_dataset(2)[("tinyimagenet", None)], "factor": 3}},
))
register_method(Method(
    name="idc-i", setup=setup, defaults={**IDC_DEFAULTS, "factor": 1}, iterations_key="iterations", published=_per_dataset(1),
))
