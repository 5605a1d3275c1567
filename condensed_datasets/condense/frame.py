"""Machinery every recipe shares: run options, metadata, class-balanced real batches, seeding."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from condensed_datasets.training.sources import RealData

MAX_SEED = 2**63 - 1  # what every torch generator accepts


def check_seed(seed: int) -> None:
    """Seeds are integers in [0, 2**63 - 1]."""
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= MAX_SEED:
        raise ValueError(f"--seed {seed} is out of range: choose an integer from 0 to {MAX_SEED}")


@dataclass
class RunOptions:
    """How to run a recipe (as opposed to *what* it computes, which is its config).

    Args:
        device: where tensors and networks live ("cpu", "cuda").
        seed: seeds every random draw of the run.
        progress: show a progress bar.
        checkpoint: file for periodic checkpoints (``None``: no checkpoints).
        resume: continue from ``checkpoint`` when it exists.
        checkpoint_minutes: how often to checkpoint.
        amp: bfloat16 autocast on CUDA where a recipe supports it.
        real_precision: dtype of the real-image embeddings that carry no gradient (`precision.PRECISIONS`).
        train_precision: arithmetic of the networks' training steps inside a recipe (IDC's network update
            and IDM's queue models' steps on real batches, the inner loop of DC, DSA and DCMG on the synthetic
            set): ``fp32`` (the reference) or bf16 autocast; ``auto`` picks bf16 on a CPU with AVX512-BF16 (`precision.PRECISIONS`).
        train_compilation: whether that training runs through ``torch.compile`` (`compilation.COMPILATION`;
            ``auto``: `compilation.resolve_compilation` on the run's planned training work).
        match_compilation: whether the gradient-matching passes of DC, DSA and IDC run compiled
            (`matching_pass`, `compilation.matching_compilation`; ``auto`` as above, on the planned matching work).
        on_iteration: called as ``on_iteration(iteration, loss)`` after every iteration (logging, timing).
    """

    device: str = "cpu"
    seed: int = 0
    progress: bool = True
    checkpoint: Path | None = None
    resume: bool = False
    checkpoint_minutes: float = 5.0
    amp: bool = False
    real_precision: str = "auto"
    train_precision: str = "auto"
    train_compilation: str = "auto"
    match_compilation: str = "auto"
    on_iteration: Callable[[int, float], None] | None = None

    @property
    def torch_device(self) -> torch.device:
        return torch.device(self.device)


def package_version() -> str:
    from condensed_datasets import __version__

    return __version__


def set_meta(real: RealData, method: str, ipc: int, config: dict[str, Any], seed: int, **extra: Any) -> dict[str, Any]:
    """The metadata every recipe stores with its set."""
    return {
        "dataset": real.name, "classes": list(real.classes), "mean": list(real.mean), "std": list(real.std),
        "method": method, "ipc": ipc, "config": config, "seed": seed, "package_version": package_version(),
        "image_size": list(real.image_size), "channels": real.channels, "evaluations": [], **extra,
    }
