"""Resumable recipe runs: atomic safetensors checkpoints, a progress bar, a NaN/inf guard.

A checkpoint holds the synthetic images, the optimiser's state, every RNG state the run draws from
and recipe extras, as tensors (no pickle), plus JSON metadata (method, config, iteration). Resuming
restores them all, so ``--iterations 10`` then ``--iterations 20 --resume`` equals a fresh 20.
A SIGTERM (a campaign's deadline, a scheduler's stop) ends the run at the next iteration boundary with a
checkpoint (`RunStopped`), so that stopping a run never costs the iterations since the last checkpoint.
"""

from __future__ import annotations

import json
import logging
import math
import platform
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import Tensor
from tqdm.auto import tqdm

from condensed_datasets.condense.settings import RunOptions
from condensed_datasets.core.errors import (
    CheckpointMismatchError,
    NonFiniteLossError,
    RunStopped,
)
from condensed_datasets.core.files import atomic_path, remove_stale_temporaries
from condensed_datasets.core.stops import stop_requests
from condensed_datasets.training.allocator import keep_freed_memory

log = logging.getLogger(__name__)


@dataclass
class RecipeState:
    """What a recipe run carries from iteration to iteration (and what a checkpoint saves).

    Attributes:
        images: the learnable synthetic images (a leaf tensor).
        optimizer: the optimiser over ``images`` (its momentum buffers are saved).
        generator: the CPU generator every random draw of the recipe uses.
        extra: recipe-specific tensors (network queues, decoder weights, ...).
        iteration: iterations completed.
    """

    images: Tensor
    optimizer: torch.optim.Optimizer
    generator: torch.Generator
    extra: dict[str, Tensor] = field(default_factory=dict)
    iteration: int = 0

    def tensors(self) -> dict[str, Tensor]:
        out = {"images": self.images.detach(), "rng.generator": self.generator.get_state(), "rng.torch": torch.get_rng_state()}
        if torch.cuda.is_available() and self.images.is_cuda:
            out["rng.cuda"] = torch.cuda.get_rng_state(self.images.device)
        for i, group in enumerate(self.optimizer.param_groups):
            for j, p in enumerate(group["params"]):
                for key, value in self.optimizer.state.get(p, {}).items():
                    if isinstance(value, Tensor):
                        out[f"opt.{i}.{j}.{key}"] = value.detach()
        out.update({f"extra.{k}": v.detach() for k, v in self.extra.items()})
        return {k: v.contiguous().cpu() for k, v in out.items()}

    def restore(self, tensors: dict[str, Tensor]) -> None:
        with torch.no_grad():
            self.images.copy_(tensors["images"].to(self.images.device))
        self.generator.set_state(tensors["rng.generator"])
        torch.set_rng_state(tensors["rng.torch"])
        if "rng.cuda" in tensors and self.images.is_cuda:
            torch.cuda.set_rng_state(tensors["rng.cuda"], self.images.device)
        for i, group in enumerate(self.optimizer.param_groups):
            for j, p in enumerate(group["params"]):
                prefix = f"opt.{i}.{j}."
                for key in (k for k in tensors if k.startswith(prefix)):
                    self.optimizer.state[p][key[len(prefix):]] = tensors[key].to(p.device)
        self.extra.update({k[len("extra."):]: v for k, v in tensors.items() if k.startswith("extra.")})


def save_checkpoint(path: Path, state: RecipeState, info: dict[str, Any]) -> None:
    """Write the checkpoint atomically (a temporary file, then a rename): never half-written."""
    with atomic_path(path) as tmp:
        save_file(state.tensors(), str(tmp), metadata={"checkpoint": json.dumps({**info, "iteration": state.iteration})})


def read_checkpoint(path: Path) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Tensors and metadata of a checkpoint; `CheckpointMismatchError` for anything that is not a whole one."""
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            info = json.loads((f.metadata() or {})["checkpoint"])
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except KeyError:
        raise CheckpointMismatchError(f"{path} is a safetensors file but not a checkpoint (a set file?); "
                                      "remove it or drop --resume") from None
    except Exception as err:  # safetensors and json raise their own types for every kind of damage
        raise CheckpointMismatchError(f"{path} is not a readable checkpoint (truncated or corrupted: {err}); "
                                      "remove it or drop --resume") from None
    if not isinstance(info, dict) or not {"method", "config", "iteration"} <= set(info) or "images" not in tensors:
        raise CheckpointMismatchError(f"{path} is not a complete checkpoint; remove it or drop --resume")
    return tensors, info


def _run_identity(method: str, config: dict[str, Any], seed: int, state: "RecipeState",
                  extra: dict[str, Any]) -> dict[str, Any]:
    """What binds a checkpoint to its run: a resume must match all of it."""
    return {"method": method, "config": json.loads(json.dumps(config)), "seed": seed,
            "images_shape": list(state.images.shape), **extra}


# Identity entries that checkpoints began recording later: one written before says nothing of it, and the resumed
# run adopts this run's value (recorded from its next checkpoint on). With what a mismatch most likely means.
ADOPTED_WHEN_UNRECORDED = {
    "source_sha256": "it was built from another copy of the dataset (other files, or the same image files decoded by "
                     "another Pillow/libjpeg): point --data-root at that copy",
}


def _check_same_run(path: Path, saved: dict[str, Any], current: dict[str, Any], ignores: tuple[str, ...]) -> None:
    """Refuse a checkpoint whose run identity differs from ``current`` (config keys in ``ignores`` may differ)."""
    def flat(identity: dict[str, Any]) -> dict[str, Any]:  # config entries as "config.<key>", beside the rest
        config = identity.get("config") or {}
        return {**{k: identity.get(k) for k in current if k != "config"},
                **{f"config.{k}": v for k, v in config.items() if k not in ignores}}

    mine, theirs = flat(current), flat(saved)
    differs = [k for k in dict.fromkeys([*mine, *theirs]) if mine.get(k) != theirs.get(k)
               and not (k in ADOPTED_WHEN_UNRECORDED and k not in saved)]
    if differs:
        detail = ", ".join(f"{k}: checkpoint {theirs.get(k)!r}, this run {mine.get(k)!r}" for k in differs[:4])
        hints = "".join(f"; {ADOPTED_WHEN_UNRECORDED[k]}" for k in differs if k in ADOPTED_WHEN_UNRECORDED)
        raise CheckpointMismatchError(f"{path} was written by a different run ({detail}){hints}; remove it or drop --resume")


def run_iterations(state: RecipeState, step: Callable[[int], float], total: int, run: RunOptions, method: str,
                   config: dict[str, Any], resume_ignores: tuple[str, ...] = (),
                   on_restore: Callable[[], None] | None = None, identity: dict[str, Any] | None = None,
                   compiled: dict[str, bool] | None = None) -> None:
    """Call ``step(it)`` for iterations ``state.iteration .. total - 1`` with checkpoints, progress and a NaN guard.

    ``step`` returns the iteration's loss. With ``run.resume`` and an existing checkpoint the run
    continues from it (its method and config, except the keys in ``resume_ignores``, must match).
    A checkpoint is written every ``run.checkpoint_minutes`` and at the end. ``on_restore`` is
    called after a checkpoint was loaded (to rebuild recipe objects from ``state.extra``). ``identity``:
    further run settings a resume must match (JSON values), e.g. the dtype of the real passes. ``compiled``: which
    passes run through ``torch.compile`` (``train_compiled``, ``match_compiled``), saved so that a resume on another
    machine keeps them (`resumed_levers`), not compared (a run may be resumed either way on purpose).
    """
    keep_freed_memory()
    info = _run_identity(method, config, run.seed, state, identity or {})
    segments: list[dict[str, Any]] = []  # where and how long each stretch of the run ran (resumes add stretches)
    path = run.checkpoint
    if path is not None:
        remove_stale_temporaries(path)  # the run owns its checkpoint (one writer per set: see locks.set_lock)
    saved: dict[str, Any] = {}  # the checkpoint resumed from, if any
    if path is not None and run.resume and path.is_file():
        tensors, saved = read_checkpoint(path)
        _check_same_run(path, saved, info, resume_ignores)
        state.restore(tensors)
        state.iteration = int(saved["iteration"])
        for key in ADOPTED_WHEN_UNRECORDED.keys() & info.keys() - saved.keys():
            log.warning(f"{path} was written before checkpoints recorded {key}: this run adopts its own "
                        f"({str(info[key])[:12]}) from iteration {state.iteration} on (each stretch records it)")
        segments = list(saved.get("segments") or [])
        if on_restore is not None:
            with torch.random.fork_rng(devices=[]):  # rebuilding objects must not consume the restored RNG
                on_restore()
    last_save = started = time.monotonic()
    first = saved_at = state.iteration
    latest = dict(saved.get("latest") or {})  # the interval between the last two checkpoints that ran iterations

    def save() -> None:
        nonlocal last_save, saved_at, latest
        now = time.monotonic()
        stretch = {"device": describe_device(run.torch_device), "from": first, "to": state.iteration,
                   "seconds": round(now - started, 1), **{k: info[k] for k in ADOPTED_WHEN_UNRECORDED if k in info}}
        if state.iteration > saved_at:
            latest = {"from": saved_at, "to": state.iteration, "seconds": round(now - last_save, 3)}
        save_checkpoint(path, state, {**info, "compiled": compiled or {}, "segments": [*segments, stretch],
                                      **({"latest": latest} if latest else {})})
        last_save, saved_at = now, state.iteration

    with (tqdm(total=total, initial=min(state.iteration, total), desc=method, disable=not run.progress) as bar,
          stop_requests() as stop_requested):
        for it in range(state.iteration, total):
            loss = float(step(it))
            if not math.isfinite(loss):
                kept = f"the last good checkpoint {path} is kept" if path is not None and path.is_file() else "no checkpoint was written"
                raise NonFiniteLossError(f"{method}: the loss became {loss} at iteration {it}; {kept}. "
                                         "Lower the learning rate (e.g. lr_img) and resume.")
            state.iteration = it + 1
            if run.on_iteration is not None:
                run.on_iteration(it, loss)
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.4g}")
            if path is not None and time.monotonic() - last_save >= run.checkpoint_minutes * 60:
                save()
            if stop_requested() and state.iteration < total:
                kept = "no checkpoint (none was asked for)"
                if path is not None:
                    save()
                    kept = f"checkpoint {path}; continue it with --resume"
                raise RunStopped(f"{method}: stopped on request (SIGTERM) after iteration {state.iteration} of {total}; {kept}")
    if path is not None:
        save()


def describe_device(device: torch.device) -> str:
    """What a run computes on, for a build's record: the GPU's name, or the CPU's model, its widest vector
    instructions as PyTorch uses them (AVX2, AVX512, with AVX512-BF16 and AMX named) and the threads used."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), model)
    except OSError:
        pass
    threads = torch.get_num_threads()
    features = [torch.backends.cpu.get_cpu_capability()]
    features += [name for name, present in (("AVX512-BF16", torch.cpu._is_avx512_bf16_supported()),
                                            ("AMX", getattr(torch.cpu, "_is_amx_tile_supported", bool)())) if present]
    return f"{model} ({', '.join(features)}; {threads} thread{'' if threads == 1 else 's'})"


def device_label(recorded: str) -> str:
    """A device as `describe_device` writes it today, from a record of any age: labels written before the thread
    count was spelt right, ``(1 threads)``, read ``(1 thread)``."""
    return re.sub(r"\b1 threads\)", "1 thread)", recorded)


def checkpoint_info(path: Path) -> dict[str, Any]:
    """The metadata of the checkpoint at ``path`` (method, config, iteration, arithmetic, segments), tensors unread."""
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            info = json.loads((f.metadata() or {})["checkpoint"])
    except KeyError:
        raise CheckpointMismatchError(f"{path} is a safetensors file but not a checkpoint (a set file?); "
                                      "remove it or drop --resume") from None
    except Exception as err:  # as read_checkpoint: every kind of damage
        raise CheckpointMismatchError(f"{path} is not a readable checkpoint ({err}); remove it or drop --resume") from None
    if not isinstance(info, dict):
        raise CheckpointMismatchError(f"{path} is not a complete checkpoint; remove it or drop --resume")
    return info


def checkpoint_segments(path: Path) -> list[dict[str, Any]]:
    """The stretches of the run recorded in the checkpoint at ``path`` (device, iterations from/to, seconds)."""
    return list(checkpoint_info(path).get("segments") or [])


# The arithmetic a checkpoint records -> the option value that reproduces it (None: the checkpoint does not say).
_RECORDED = {
    "real_precision": lambda info: {"bfloat16": "bf16", "float32": "fp32"}.get(info.get("real_precision")),
    # recipes record train_precision only when it is not the float32 reference
    "train_precision": lambda info: "bf16" if info.get("train_precision") == "bfloat16" else "fp32",
    "train_compilation": lambda info: None if "compiled" not in info else ("on" if info["compiled"].get("train_compiled") else "off"),
    "match_compilation": lambda info: None if "compiled" not in info else ("on" if info["compiled"].get("match_compiled") else "off"),
}
_OPTION = {"real_precision": "--real-precision", "train_precision": "--train-precision",
           "train_compilation": "--train-compile", "match_compilation": "--match-compile"}


def resumed_levers(path: Path, levers: dict[str, str]) -> dict[str, str]:
    """``levers`` (option name -> choice) for a run resuming the checkpoint at ``path``: each ``auto`` becomes the
    arithmetic the checkpoint was written with (so a run moved to another machine keeps it); an explicit choice
    that differs from it is refused, naming the option and the value that resumes."""
    info = checkpoint_info(path)
    out = dict(levers)
    for name, choice in levers.items():
        recorded = _RECORDED[name](info) if name in _RECORDED else None
        if recorded is None:
            continue
        if choice == "auto":
            out[name] = recorded
        elif choice != recorded:
            raise CheckpointMismatchError(f"{path} was written with {_OPTION[name]} {recorded}, this run asks for {choice}: "
                                          f"resume with {_OPTION[name]} {recorded} (or auto), or drop --resume to start over")
    return out


def module_tensors(prefix: str, net: torch.nn.Module, optimizer: torch.optim.Optimizer | None = None) -> dict[str, Tensor]:
    """A network's parameters/buffers (and its optimiser's momentum) as flat tensors for `RecipeState.extra`."""
    out = {f"{prefix}.net.{k}": v.detach().clone() for k, v in net.state_dict().items()}
    if optimizer is not None:
        for j, p in enumerate(optimizer.param_groups[0]["params"]):
            buf = optimizer.state.get(p, {}).get("momentum_buffer")
            if buf is not None:
                out[f"{prefix}.opt.{j}"] = buf.detach().clone()
    return out


def load_module_tensors(prefix: str, tensors: dict[str, Tensor], net: torch.nn.Module,
                        optimizer: torch.optim.Optimizer | None = None) -> None:
    """Inverse of `module_tensors`."""
    state = {k[len(prefix) + 5:]: v for k, v in tensors.items() if k.startswith(f"{prefix}.net.")}
    net.load_state_dict(state)
    if optimizer is not None:
        for j, p in enumerate(optimizer.param_groups[0]["params"]):
            if f"{prefix}.opt.{j}" in tensors:
                optimizer.state[p]["momentum_buffer"] = tensors[f"{prefix}.opt.{j}"].to(p.device).clone()
