"""``dsa``: Dataset Condensation with Differentiable Siamese Augmentation (Zhao & Bilen, ICML 2021).

DC's gradient matching where the real and the synthetic batch of a class are augmented with one
shared draw of the DSA ops (and the inner-loop training augments per image). As in the README
commands: real-image initialisation and the strategy ``color_crop_cutout_flip_scale_rotate``
(without ``flip`` for MNIST, SVHN and digits); everything else as DC.
"""

from __future__ import annotations

from typing import Any

from condensed_datasets.condense.frame import RunOptions
from condensed_datasets.condense.gradient_matching import (
    GM_DEFAULTS,
    condense_by_gradient_matching,
    gm_loops,
)
from condensed_datasets.core.condensed_set import CondensedSet
from condensed_datasets.training.sources import RealData

from . import Method, register_method


def condense(real: RealData, ipc: int, config: dict[str, Any], run: RunOptions) -> CondensedSet:
    """Gradient matching with siamese augmentation; the strategy defaults to the dataset's."""
    config = {**config, "dsa_strategy": config.get("dsa_strategy") or real.dsa_strategy}
    return condense_by_gradient_matching(real, ipc, config, run, "dsa")


register_method(Method(
    name="dsa", condense=condense, defaults={**GM_DEFAULTS, "init": "real"}, iterations_key="iterations", per_ipc=gm_loops,
))
