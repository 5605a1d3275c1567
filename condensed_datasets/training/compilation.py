"""``torch.compile`` for the evaluation networks' training and test passes.

TorchInductor leaves the convolutions to oneDNN and fuses what surrounds them (instance norm, ReLU,
average pooling, their backwards) into generated C++ loops, so each training step is cheaper while the
logits stay equal to eager ones up to float32 rounding. The price is a compilation of tens of seconds the
first time a process meets the network. Dynamo reuses one compiled graph for every network of the same
architecture (their parameters are the graph's inputs), so K evaluation networks pay the compilation once.

With bf16 networks (autocast forwards) the gain is larger, as Inductor fuses the casts too. The recipes
use it for their network training (`training_compilation`); their gradient-matching passes, which take a
double backward, compile as one ``torch.func`` function instead (`matching_compilation`, `matching_pass`).
The measured speed-ups and accuracies (`benchmarks/eval_speed.py`, `benchmarks/precision_fidelity.py`) are
in docs/performance.md (the ``eval --compile`` lever) and benchmarks/README.md.

``COMPILATION`` choices: ``on``, ``off``, ``auto`` (on where it pays for itself: a CPU, a C++ compiler
for Inductor, float32 or bf16 networks, and a run that trains at least `AUTO_MIN_PIXELS` image-pixels;
off on CUDA, not measured).
"""

from __future__ import annotations

import shutil

import torch
from torch import nn

from condensed_datasets.core.errors import check_choice

COMPILATION = ("auto", "on", "off")
# Compilation costs tens of seconds once and saves a fraction of each step, so it pays only above a size
# threshold. The size is counted in image-pixels, because the saving scales with the activations. The measured
# break-even (a CIFAR step of 100 images, docs/performance.md, ``eval --compile``) is ~4e7 image-pixels; the
# threshold leaves margin: a 1000-epoch CIFAR or MNIST evaluation of 5 networks at IPC 10 trains ~4-5e8 and is
# compiled, the digits demo (8x8 px) trains 1e7 and stays eager.
AUTO_MIN_PIXELS = 10**8
AUTO_DTYPES = (torch.float32, torch.bfloat16)


def check_compilation(choice: str) -> None:
    """``choice`` must be one of `COMPILATION`."""
    check_choice("compilation", choice, COMPILATION)


def can_compile(device: torch.device) -> bool:
    """Whether Inductor can generate code here: a CPU with a C++ compiler on the PATH."""
    return device.type == "cpu" and any(shutil.which(cxx) for cxx in ("g++", "c++", "clang++"))


def resolve_compilation(choice: str, device: torch.device, trained_pixels: int, dtype: torch.dtype = torch.float32) -> bool:
    """Whether to compile ``dtype`` networks on ``device`` for a run that trains ``trained_pixels`` image-pixels
    (images per step x pixels per image x steps, all networks together)."""
    check_compilation(choice)
    if choice == "auto":
        return can_compile(device) and dtype in AUTO_DTYPES and trained_pixels >= AUTO_MIN_PIXELS
    return choice == "on"


def training_compilation(choice: str, device: torch.device, trained_pixels: int, dtype: torch.dtype) -> tuple[bool, dict[str, bool]]:
    """Whether a recipe's network training (``RunOptions.train_compilation``) is compiled, and how a set records it.

    The record goes into the set's metadata only (not a checkpoint's identity: compiled and eager steps compute
    the same function, so a run may resume either way); it is empty when eager."""
    enabled = resolve_compilation(choice, device, trained_pixels, dtype)
    return enabled, {"train_compiled": True} if enabled else {}


def matching_compilation(choice: str, device: torch.device, matched_pixels: int, possible: bool) -> tuple[bool, dict[str, bool]]:
    """Whether a recipe's gradient-matching passes (``RunOptions.match_compilation``, `matching_pass`) are compiled,
    and how a set records it (as `training_compilation`: metadata only, empty when eager).

    ``matched_pixels``: image-pixels the run's matching passes take (real and synthetic); ``possible``: whether the
    compiled pass computes this run's matching at all (no batch norm, no inter-class term); where it cannot, even
    ``on`` leaves the passes eager and nothing is recorded."""
    enabled = possible and resolve_compilation(choice, device, matched_pixels)
    return enabled, {"match_compiled": True} if enabled else {}


def compiled(net: nn.Module, enabled: bool) -> nn.Module:
    """``net`` wrapped by ``torch.compile`` when ``enabled`` (same parameters), else ``net`` itself.

    Static shapes: an epoch's last, smaller batch gets its own graph instead of turning every graph dynamic.
    """
    return torch.compile(net, dynamic=False) if enabled else net
