"""``dsa``: Dataset Condensation with Differentiable Siamese Augmentation (Zhao & Bilen, ICML 2021).

DC's gradient matching where the real and the synthetic batch of a class are augmented with one
shared draw of the DSA ops (and the inner-loop training augments per image). As in the README
commands: real-image initialisation and the strategy ``color_crop_cutout_flip_scale_rotate``
(without ``flip`` for MNIST, SVHN and digits); everything else as DC.
"""

from __future__ import annotations

from typing import Any

import torch

from condensed_datasets.condense.frame import Setup
from condensed_datasets.condense.gradient_matching import (
    DIGITS_IPC10,
    GM_DEFAULTS,
    gm_loops,
    gradient_matching_setup,
)
from condensed_datasets.condense.settings import RunOptions
from condensed_datasets.training.sources import RealData

from . import Method, register_method


def setup(real: RealData, ipc: int, config: dict[str, Any], run: RunOptions, generator: torch.Generator) -> Setup:
    """Gradient matching with siamese augmentation; the strategy defaults to the dataset's."""
    config = {**config, "dsa_strategy": config.get("dsa_strategy") or real.dsa_strategy}
    return gradient_matching_setup(real, ipc, config, run, generator)


register_method(Method(
    name="dsa", setup=setup, defaults={**GM_DEFAULTS, "init": "real"}, iterations_key="iterations", per_ipc=gm_loops,
    published={("digits", 10): DIGITS_IPC10},
))
