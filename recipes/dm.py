"""``dm``: Dataset Condensation with Distribution Matching (Zhao & Bilen, WACV 2023).

Per iteration a fresh, frozen ConvNet embeds a real batch and the synthetic images of every class
(after one shared DSA draw per class); the loss is ``sum_c ||mean e(real_c) - mean e(syn_c)||^2``
and one SGD step (momentum 0.5) updates all images. Reference values (`methods.md` §4.3): real
initialisation, lr_img 1 (10 for CIFAR-10 at IPC >= 100, README), batch_real 256, 20000 iterations.

The real embeddings are targets, not learned: they are computed without a graph, one class per pass
in chunks, in bfloat16 where `precision` says so (``RunOptions.real_precision``). The synthetic images
of all classes go through the network in ONE forward pass (``batched_classes``, default);
``batched_classes=False`` runs the reference's per-class loop (same loss, for comparison).
"""

from __future__ import annotations

from typing import Any

import torch

from condensed_datasets.condense.checkpoint import RecipeState
from condensed_datasets.condense.distances import mean_embedding_distance
from condensed_datasets.condense.frame import Setup
from condensed_datasets.condense.sampling import init_images, sample_class
from condensed_datasets.condense.settings import RunOptions
from condensed_datasets.core.condensed_set import class_major_labels
from condensed_datasets.training.augment import DiffAugment
from condensed_datasets.training.nets import get_network
from condensed_datasets.training.precision import (
    embed_real,
    precision_name,
    real_pass_network,
    resolve_precision,
)
from condensed_datasets.training.sources import RealData

from . import Method, register_method


def setup(real: RealData, ipc: int, config: dict[str, Any], run: RunOptions, generator: torch.Generator) -> Setup:
    """Distribution matching: images initialised from real ones, one step matches mean embeddings per class."""
    device = run.torch_device
    images = init_images(real, ipc, config["init"], generator).to(device).requires_grad_(True)
    state = RecipeState(images, torch.optim.SGD([images], lr=config["lr_img"], momentum=0.5), generator)
    aug = DiffAugment(config.get("dsa_strategy") or real.dsa_strategy)
    n_cls = real.num_classes
    batch_real = min(int(config["batch_real"]), real.min_class_count)
    autocast = torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=run.amp and device.type == "cuda")
    real_dtype = resolve_precision(run.real_precision, device)
    recorded = {"real_precision": precision_name(real_dtype)}  # in the checkpoint's identity and the set's metadata

    def step(it: int) -> float:
        net = get_network(config["arch"], real.channels, n_cls, real.image_size).to(device)
        net.train()
        for p in net.parameters():
            p.requires_grad_(False)
        real_aug, syn_aug = [], []
        for c in range(n_cls):  # one shared (siamese) augmentation draw per class
            real_c = sample_class(real, c, batch_real, generator)
            draw = aug.sample(batch_real, real.image_size, generator, shared=True)
            real_aug.append(draw(real_c))
            syn_aug.append(draw(images[c * ipc:(c + 1) * ipc]))
        real_net = real_pass_network(net, real_dtype)
        with autocast:
            # Real embeddings are targets (no graph): one class per pass keeps activations cache-sized.
            e_real = torch.stack([embed_real(real_net, r) for r in real_aug])
            if config.get("batched_classes", True):
                e_syn = net.embed(torch.cat(syn_aug)).view(n_cls, ipc, -1)
                loss = mean_embedding_distance(e_real, e_syn.float())
            else:
                loss = sum(((e_r.mean(0) - net.embed(s).mean(0).float()) ** 2).sum() for e_r, s in zip(e_real, syn_aug))
        state.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        state.optimizer.step()
        return float(loss.detach())

    return Setup(state, step, class_major_labels(n_cls, ipc, device), identity=recorded)


register_method(Method(
    name="dm", setup=setup, defaults={"arch": "convnet", "init": "real", "lr_img": 1.0, "batch_real": 256, "iterations": 20000,
              "dsa_strategy": None, "batched_classes": True},
    iterations_key="iterations",
    published={
        # VICO-UoE/DatasetCondensation readme.md l.177: lr_img 10 for CIFAR-10 at IPC 100-1250 only (CIFAR-100 keeps 1).
        **{("cifar10", ipc): {"lr_img": 10.0} for ipc in (100, 200, 500, 1000, 1250)},
        # main_DM.py --model ConvNet: depth 3 whatever the size (8192-d embedding at 64 px), not ConvNet-4.
        ("tinyimagenet", None): {"arch": "convnet-d3"},
        # The embedded default: small classes (~135 images) and a one-minute CPU budget.
        ("digits", None): {"batch_real": 64, "iterations": 200},
    },
))
