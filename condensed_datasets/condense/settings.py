"""How a recipe runs (as opposed to what it computes, its config): device, seed, precision and compilation
choices, checkpoints, progress; one object passed whole from the command line to the recipe."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Callable

import torch

from condensed_datasets.training.compilation import check_compilation
from condensed_datasets.training.devices import check_device
from condensed_datasets.training.precision import check_precision

MAX_SEED = 2**63 - 1  # what every torch generator accepts


def check_seed(seed: int) -> None:
    """Seeds are integers in [0, 2**63 - 1]."""
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= MAX_SEED:
        raise ValueError(f"--seed {seed} is out of range: choose an integer from 0 to {MAX_SEED}")


@dataclass(frozen=True)
class RunSettings:
    """The settings of a run a user chooses (``condensed build`` and ``collection build`` take the same options).

    Args:
        device: where tensors and networks live ("cpu", "cuda").
        seed: seeds every random draw of the run.
        checkpoint_minutes: how often to checkpoint (and always at the end).
        amp: bfloat16 autocast on CUDA where a recipe supports it.
        real_precision: dtype of the real-image embeddings that carry no gradient (`precision.PRECISIONS`).
        train_precision: arithmetic of the networks' training steps inside a recipe: ``fp32`` (the reference) or
            bf16 autocast; ``auto`` picks bf16 on a CPU with AVX512-BF16 (`precision.PRECISIONS`).
        train_compilation: whether that training runs through ``torch.compile`` (`compilation.COMPILATION`).
        match_compilation: whether the gradient-matching passes of DC, DSA and IDC run compiled.

    See docs/performance.md for what each lever costs and buys.
    """

    device: str = "cpu"
    seed: int = 0
    checkpoint_minutes: float = 5.0
    amp: bool = False
    real_precision: str = "auto"
    train_precision: str = "auto"
    train_compilation: str = "auto"
    match_compilation: str = "auto"

    def check(self) -> "RunSettings":
        """``self`` if every setting is valid; else a `ValueError` naming the bad value and the choices."""
        check_device(self.device)
        check_seed(self.seed)
        for precision in (self.real_precision, self.train_precision):
            check_precision(precision)
        for compilation in (self.train_compilation, self.match_compilation):
            check_compilation(compilation)
        return self

    def levers(self) -> dict[str, str]:
        """The arithmetic a checkpoint records and a resume keeps (`checkpoint.resumed_levers`)."""
        return {k: getattr(self, k) for k in ("real_precision", "train_precision", "train_compilation", "match_compilation")}

    def with_levers(self, levers: dict[str, str]) -> "RunSettings":
        return replace(self, **levers)


@dataclass(frozen=True)
class RunOptions(RunSettings):
    """`RunSettings` plus how this one run reports and resumes: what a recipe receives.

    Args:
        progress: show a progress bar.
        checkpoint: file for periodic checkpoints (``None``: no checkpoints).
        resume: continue from ``checkpoint`` when it exists.
        on_iteration: called as ``on_iteration(iteration, loss)`` after every iteration (logging, timing).
    """

    progress: bool = True
    checkpoint: Path | None = None
    resume: bool = False
    on_iteration: Callable[[int, float], None] | None = None

    @classmethod
    def of(cls, settings: RunSettings, **run: Any) -> "RunOptions":
        """The options of one run with ``settings`` (``run``: progress, checkpoint, resume, on_iteration)."""
        return cls(**{f.name: getattr(settings, f.name) for f in fields(RunSettings)}, **run)

    @property
    def torch_device(self) -> torch.device:
        return torch.device(self.device)
