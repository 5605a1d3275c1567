"""`build`: regenerate one condensed set from scratch (what ``condensed build`` runs)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable

import torch

from condensed_datasets.condense.checkpoint import checkpoint_segments, resumed_levers
from condensed_datasets.condense.settings import RunOptions, RunSettings
from condensed_datasets.core.files import atomic_path, check_folder, ensure_folder
from condensed_datasets.core.layout import (
    BUILD_FILENAME,
    CHECKPOINT_FILENAME,
    PREVIEW_FILENAME,
    SET_FILENAME,
    set_dir,
)
from condensed_datasets.training.devices import autotune_convolutions
from condensed_datasets.training.sources import DataSource, RealData


def check_ipc(ipc: int, real: RealData) -> None:
    """IPC must be at least 1 and at most the size of the smallest class."""
    if ipc < 1 or ipc > real.min_class_count:
        raise ValueError(f"--ipc {ipc} is out of range for {real.name}: choose 1 to {real.min_class_count} (its smallest class)")


def build(dataset: str, method: str, ipc: int, *, out: str | os.PathLike = "out", settings: RunSettings | None = None,
          iterations: int | None = None, overrides: dict[str, Any] | None = None,
          source: DataSource | RealData | None = None, resume: bool = False, progress: bool = True,
          on_iteration: Callable[[int, float], None] | None = None) -> Path:
    """Condense ``dataset`` with ``method`` at ``ipc`` images per class and write the set.

    Returns the path of ``OUT/<dataset>/<method>/ipc<N>/condensed.safetensors``. ``settings``: how to run
    (device, seed, arithmetic, checkpoint interval); ``iterations`` shortens (or lengthens) the run;
    ``overrides`` replace hyperparameters of the recipe's published config; ``source``: the real data, loaded
    or where to load it from; ``resume`` continues from the checkpoint in the same folder (keeping the
    arithmetic it was written with); ``on_iteration`` is called as ``on_iteration(iteration, loss)``.
    """
    from condensed_datasets.core.locks import set_lock
    from condensed_datasets.pipeline.preview import write_preview
    from condensed_datasets.recipes import get_method

    spec = get_method(method)
    settings = (settings or RunSettings()).check()
    if iterations is not None and not spec.iterations_key:
        raise ValueError(f"{method} has no iterations (it selects real images); drop --iterations")
    folder = check_folder(set_dir(out, dataset, method, ipc))
    real = source if isinstance(source, RealData) else (source or DataSource()).load(dataset)
    check_ipc(ipc, real)
    overrides = dict(overrides or {})
    if iterations is not None:
        if spec.iterations_key in overrides and overrides[spec.iterations_key] != iterations:
            raise ValueError(f"--iterations {iterations} and --set {spec.iterations_key}={overrides[spec.iterations_key]} "
                             "disagree; give one of them")
        overrides[spec.iterations_key] = iterations
    config = spec.config(real.name, ipc, overrides)
    if resume and (folder / CHECKPOINT_FILENAME).is_file():  # keep the arithmetic the run started with
        settings = settings.with_levers(resumed_levers(folder / CHECKPOINT_FILENAME, settings.levers()))
    ensure_folder(folder)
    autotune_convolutions(settings.device)
    with set_lock(folder):  # one writer per set: a second build of it is refused, never mixed in
        run = RunOptions.of(settings, progress=progress, checkpoint=folder / CHECKPOINT_FILENAME, resume=resume,
                            on_iteration=on_iteration)
        cset = spec.condense(real.to(settings.device), ipc, config, run)
        cset.meta.update(built_on=torch.device(settings.device).type, **published_record(spec, real.name, ipc, config))
        path = folder / SET_FILENAME
        cset.save(path)
        write_preview(cset, folder / PREVIEW_FILENAME)
        if (folder / CHECKPOINT_FILENAME).is_file():
            write_build_record(folder / BUILD_FILENAME, checkpoint_segments(folder / CHECKPOINT_FILENAME))
    return path


def published_record(spec: Any, dataset: str, ipc: int, config: dict[str, Any]) -> dict[str, Any]:
    """What a set records of its method's publication when built, so that evaluation and cards need no recipe:
    the evaluation ``protocol``, the published ``budget`` (iterations; ``None`` for a method without) and the
    ``config_changes`` from the published config (besides the iterations)."""
    published = spec.config(dataset, ipc)
    return {"protocol": spec.protocol, "budget": published.get(spec.iterations_key) if spec.iterations_key else None,
            "config_changes": {k: v for k, v in config.items() if k != spec.iterations_key and published.get(k) != v}}


def write_build_record(path: Path, segments: list[dict[str, Any]]) -> None:
    """``build.json``: each stretch of the build (device, iterations from/to, seconds, data copy) and the totals."""
    record = {"segments": segments, "iterations": max((s["to"] for s in segments), default=0),
              "seconds": round(sum(s["seconds"] for s in segments), 1),
              "devices": sorted({s["device"] for s in segments}),
              "sources": sorted({s.get("source_sha256") or "not recorded" for s in segments})}
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(record, indent=1) + "\n")
