"""Device handling shared by recipes and evaluation: copies that do not stall the GPU, cuDNN's autotuner.

Every random draw of a recipe or an evaluation is made on a CPU ``torch.Generator`` (so that a seed gives the
same run on every device) and then moved to the device. A plain ``.to("cuda")`` of a pageable CPU tensor waits
for the GPU to finish all queued work first: dozens of such waits per iteration keep the GPU idle while the
CPU queues the next kernels. `to_device` copies from pinned memory without waiting (the caching host allocator
keeps the pinned block until the copy has run); on the CPU it is the identity.
"""

from __future__ import annotations

import torch
from torch import Tensor


def to_device(t: Tensor, device: torch.device | str) -> Tensor:
    """``t`` on ``device``: unchanged when it is already there, copied without a host sync to a CUDA device."""
    device = torch.device(device)
    if t.device == device or (device.type == t.device.type and device.index is None):
        return t
    if device.type == "cuda" and t.device.type == "cpu":
        return t.pin_memory().to(device, non_blocking=True)
    return t.to(device)


def autotune_convolutions(device: torch.device | str) -> None:
    """On CUDA, let cuDNN time its convolution algorithms once per shape and keep the fastest (every recipe and
    evaluation repeats a few fixed shapes thousands of times). Left off where a caller asked cuDNN to be
    deterministic (the CUDA test mode), since the choice may differ between runs."""
    if torch.device(device).type == "cuda" and not torch.backends.cudnn.deterministic:
        torch.backends.cudnn.benchmark = True


def check_device(device: str) -> None:
    """Refuse a CUDA device when none is present, with a message saying so."""
    if torch.device(device).type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {device} was asked for but no CUDA device is available; use --device cpu")
