"""``random``: the coreset baseline every condensed set must beat - random real images per class."""

from __future__ import annotations

from typing import Any

from condensed_datasets.condense.frame import seeded, set_meta
from condensed_datasets.condense.sampling import real_init
from condensed_datasets.condense.settings import RunOptions
from condensed_datasets.core.condensed_set import CondensedSet, class_major_labels
from condensed_datasets.training.sources import RealData

from . import Method, register_method


def condense(real: RealData, ipc: int, config: dict[str, Any], run: RunOptions) -> CondensedSet:
    """Pick ``ipc`` training images of every class uniformly at random (seeded)."""
    generator = seeded(run)
    images = real_init(real, ipc, generator)
    labels = class_major_labels(real.num_classes, ipc, images.device)
    return CondensedSet(images, labels, set_meta(real, "random", ipc, config, run.seed))


register_method(Method(
    name="random", condense=condense, ))
