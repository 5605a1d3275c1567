"""The one recipe frame: seeding, the iteration loop (checkpoints, progress, NaN guard, resume), the set's metadata.

A recipe states only its method: ``setup(real, ipc, config, run, generator)`` builds its initial images and
optimiser (a `RecipeState`), its ``step`` and what the set records, and returns them as a `Setup`;
`run_recipe` does everything else the same way for every method.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import Tensor

from condensed_datasets.condense.checkpoint import RecipeState, run_iterations
from condensed_datasets.condense.settings import RunOptions
from condensed_datasets.core.condensed_set import CondensedSet, DecoderSpec
from condensed_datasets.core.version import __version__
from condensed_datasets.training.sources import RealData


@dataclass
class Setup:
    """What a recipe's ``setup`` hands the frame.

    Args:
        state: the learnable images, their optimiser, the generator, recipe tensors (what a checkpoint holds).
        step: ``step(iteration) -> loss``, one iteration of the method.
        labels: the stored images' labels (class-major).
        decoder: how stored images become training images (identity unless multi-formation).
        identity: run settings a resume must match and the set records (the arithmetic, e.g. ``real_precision``).
        compiled: which passes run through ``torch.compile``; recorded, and adopted by a resume on another machine.
        on_restore: rebuilds recipe objects from ``state.extra`` after a checkpoint was loaded.
        extra_meta: further metadata, computed once the run has ended (e.g. IDM's queue steps).
        config: the config as run, where the setup completed it from the data (e.g. DSA's strategy); recorded.
    """

    state: RecipeState
    step: Callable[[int], float]
    labels: Tensor
    decoder: DecoderSpec = field(default_factory=DecoderSpec)
    identity: dict[str, Any] = field(default_factory=dict)
    compiled: dict[str, bool] = field(default_factory=dict)
    on_restore: Callable[[], None] | None = None
    extra_meta: Callable[[], dict[str, Any]] = dict
    config: dict[str, Any] | None = None


SetupFn = Callable[[RealData, int, dict[str, Any], RunOptions, torch.Generator], Setup]


def seeded(run: RunOptions) -> torch.Generator:
    """Seed torch's global generator and return the run's own CPU generator (every recipe draws from it)."""
    torch.manual_seed(run.seed)
    return torch.Generator().manual_seed(run.seed)


def set_meta(real: RealData, method: str, ipc: int, config: dict[str, Any], seed: int, **extra: Any) -> dict[str, Any]:
    """The metadata every recipe stores with its set."""
    return {
        "dataset": real.name, "classes": list(real.classes), "mean": list(real.mean), "std": list(real.std),
        "method": method, "ipc": ipc, "config": config, "seed": seed, "package_version": __version__,
        "image_size": list(real.image_size), "channels": real.channels, "evaluations": [], **real.source_record(), **extra,
    }


def run_recipe(method: str, setup: SetupFn, real: RealData, ipc: int, config: dict[str, Any], run: RunOptions) -> CondensedSet:
    """Run an iterative recipe for ``config['iterations']`` iterations and return its set."""
    plan = setup(real, ipc, config, run, seeded(run))
    config = plan.config if plan.config is not None else config
    run_iterations(plan.state, plan.step, int(config["iterations"]), run, method, config, resume_ignores=("iterations",),
                   on_restore=plan.on_restore, identity={**plan.identity, **real.source_record()}, compiled=plan.compiled)
    meta = set_meta(real, method, ipc, config, run.seed, iterations_run=plan.state.iteration, **plan.extra_meta(),
                    **plan.identity, **plan.compiled)
    return CondensedSet(plan.state.images.detach(), plan.labels, meta, plan.decoder)
