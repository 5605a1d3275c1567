"""``dc``: Dataset Condensation with Gradient Matching (Zhao, Mopuri, Bilen, ICLR 2021).

Follows the reference code (VICO-UoE/DatasetCondensation ``main.py``, `methods.md` §4.1): noise
initialisation, SGD on the images (lr 0.1, momentum 0.5), a fresh ConvNet per iteration trained
between matching steps with SGD lr 0.01 and momentum 0.5, the layer-wise ``1 - cos`` distance, no
augmentation, 1000 iterations, and the (outer, inner) loops per IPC of ``get_loops``.

The network momentum is the paper-era code's, the code that produced the published numbers: VICO
``main.py`` gives the network's SGD momentum 0.5 (l.139) from its first version
(f971a6b, 2021-01-15) to 0061269 (2021-03-09); the README table (MNIST 91.7 / 97.4 / 98.8, CIFAR-10
28.3 / 44.9 / 53.9, the paper's Table 1) is there since d0cbfdf (2021-01-16) and was never changed when
the DSA integration (e9d935b, 2021-07-02, "Integrate DC and DSA codes") dropped the momentum. DSA keeps
its released code's plain SGD (``GM_DEFAULTS``); DCMG keeps 0.5 (its authors' fork).
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

# Shared by DC, DSA and DCMG; net_momentum 0 is the released DSA code's (VICO main.py l.150 since e9d935b).


def setup(real: RealData, ipc: int, config: dict[str, Any], run: RunOptions, generator: torch.Generator) -> Setup:
    """Gradient matching without augmentation."""
    return gradient_matching_setup(real, ipc, config, run, generator)


# VICO main.py l.139 at f971a6b..0061269 (the code behind the README numbers); 0 since e9d935b (see the docstring).
DC_NET_MOMENTUM = 0.5

register_method(Method(
    name="dc", setup=setup, defaults={**GM_DEFAULTS, "net_momentum": DC_NET_MOMENTUM}, iterations_key="iterations", per_ipc=gm_loops,
    published={("digits", 10): DIGITS_IPC10},
))
