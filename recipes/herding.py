"""``herding``: the coreset baseline of the papers - greedy herding on features of a network trained on real data.

Per class, samples are picked one at a time so that the mean feature of the picked set stays as close
as possible to the class mean (Welling, ICML 2009; used as a baseline by DC, DSA, DM and IDC). The
feature network is a ConvNet trained for ``train_steps`` SGD steps on the real training data
(``--iterations`` overrides the step count).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from tqdm.auto import tqdm

from condensed_datasets.condense.frame import seeded, set_meta
from condensed_datasets.condense.sampling import embed_all, train_on_real
from condensed_datasets.condense.settings import RunOptions
from condensed_datasets.core.condensed_set import CondensedSet, class_major_labels
from condensed_datasets.training.nets import get_network
from condensed_datasets.training.sources import RealData

from . import Method, register_method


def herding_select(features: Tensor, k: int) -> Tensor:
    """Indices of ``k`` rows chosen greedily so their running mean tracks the mean of all rows."""
    mu = features.mean(0)
    chosen: list[int] = []
    running = torch.zeros_like(mu)
    available = torch.ones(len(features), dtype=torch.bool, device=features.device)
    for step in range(min(k, len(features))):
        dist = ((mu - (running + features) / (step + 1)) ** 2).sum(1)
        dist[~available] = float("inf")
        i = int(dist.argmin())
        chosen.append(i)
        available[i] = False
        running += features[i]
    return torch.tensor(chosen, dtype=torch.long, device=features.device)


def condense(real: RealData, ipc: int, config: dict[str, Any], run: RunOptions) -> CondensedSet:
    """Train the feature network on real data, then herd ``ipc`` images per class."""
    generator = seeded(run)
    net = get_network(config["arch"], real.channels, real.num_classes, real.image_size).to(run.torch_device)
    steps = int(config["train_steps"])
    with tqdm(total=steps + real.num_classes, desc="herding", disable=not run.progress) as bar:
        for _ in range(0, steps, 50):
            stats = train_on_real(net, real, min(50, steps - bar.n), generator, batch=config["batch_real"], lr=config["lr_net"])
            bar.update(min(50, steps - bar.n))
            bar.set_postfix(loss=f"{stats.loss:.3f}")
        picked = []
        for c in range(real.num_classes):
            idx = real.class_indices[c]
            picked.append(idx[herding_select(embed_all(net, real.train_images[idx]), ipc)])
            bar.update(1)
    images = real.train_images[torch.cat(picked)]
    labels = class_major_labels(real.num_classes, ipc, images.device)
    return CondensedSet(images, labels, set_meta(real, "herding", ipc, config, run.seed, iterations_run=steps))


register_method(Method(
    name="herding", condense=condense, defaults={"arch": "convnet", "train_steps": 1000, "batch_real": 256, "lr_net": 0.01}, iterations_key="train_steps",
))
