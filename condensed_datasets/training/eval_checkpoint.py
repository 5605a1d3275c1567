"""Resumable evaluations: after each network of `evaluate.train_and_test`, what the finished networks scored and
the random state the next one starts from, so that an evaluation stopped between networks (a SIGTERM, a killed
process, a session that ends) continues on the next run, on this machine or on another one the file was staged to,
and gives the numbers the uninterrupted evaluation gives.

The file is safetensors (no pickle): the two RNG states as uint8 tensors and JSON metadata. It is bound to its
evaluation by an identity (the training images' and labels' digest and every setting that changes the result);
a file of another evaluation, or one that is damaged, is not used and is replaced by the run that finds it.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import Tensor

from condensed_datasets.core.files import atomic_path
from condensed_datasets.core.storage import tensor_bytes

METADATA_KEY = "evaluation_progress"
RNG_TENSORS = ("rng.torch", "rng.generator")  # the global CPU RNG (initialisations), the shuffling/augmentation generator
MAX_RNG_BYTES = 1 << 16  # a CPU Mersenne Twister state is 5 056 bytes; a Philox one 16


@dataclass
class EvalProgress:
    """The networks done so far of one evaluation.

    Attributes:
        identity: what binds the file to its evaluation (`evaluation_identity`).
        models: networks the evaluation trains in all.
        accuracies: each finished network's test accuracy after the last epoch (%).
        periodic: each finished network's test accuracies at the periodic epochs (%).
        seconds: time spent on the finished networks.
    """

    identity: str
    models: int
    accuracies: list[float] = field(default_factory=list)
    periodic: list[list[float]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def done(self) -> int:
        """Networks finished: the next one is number ``done``."""
        return len(self.accuracies)


def evaluation_identity(images: Tensor, targets: Tensor, settings: dict[str, Any]) -> str:
    """A digest of the training tensors and the settings that change the result (protocol, epochs, seed, ...)."""
    digest = hashlib.sha256()
    for t in (images, targets):
        digest.update(f"{t.dtype}{list(t.shape)}".encode())
        digest.update(tensor_bytes(t))
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def save_progress(path: str | os.PathLike, progress: EvalProgress, generator: torch.Generator) -> None:
    """Write ``progress`` with the RNG states the next network starts from (the global CPU RNG's and
    ``generator``'s) atomically (a temporary file, then a rename): never half-written."""
    meta = {"identity": progress.identity, "models": progress.models, "done": progress.done,
            "accuracies": progress.accuracies, "periodic": progress.periodic, "seconds": round(progress.seconds, 2)}
    tensors = {"rng.torch": torch.get_rng_state(), "rng.generator": generator.get_state()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={METADATA_KEY: json.dumps(meta)})


def progress_summary(path: str | os.PathLike) -> dict[str, Any] | None:
    """The metadata of a progress file (``done``, ``accuracies``, ...), or ``None`` when it is absent or unreadable."""
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            meta = json.loads((f.metadata() or {})[METADATA_KEY])
    except Exception:  # noqa: BLE001 - absent, truncated, not safetensors, not ours: all mean "no progress"
        return None
    return meta if _valid_metadata(meta) else None


def resume_progress(path: str | os.PathLike, identity: str, models: int, generator: torch.Generator) -> EvalProgress:
    """Where the evaluation ``identity`` starts: the progress recorded at ``path`` when the file is this evaluation's,
    with the global CPU RNG and ``generator`` set to the states it recorded; else nothing done (the file absent, of
    another evaluation, or damaged). Its claims (keys, dtypes, sizes) are checked before a tensor is read."""
    fresh = EvalProgress(identity, models)
    meta = progress_summary(path) if Path(path).is_file() else None
    if meta is None or meta["identity"] != identity or meta["models"] != models:
        return fresh
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            if set(f.keys()) != set(RNG_TENSORS):
                return fresh
            for key in RNG_TENSORS:
                piece = f.get_slice(key)
                shape = piece.get_shape()
                if piece.get_dtype() != "U8" or len(shape) != 1 or not 0 < shape[0] <= MAX_RNG_BYTES:
                    return fresh
            torch_state, generator_state = (f.get_tensor(key) for key in RNG_TENSORS)
        for state in (torch_state, generator_state):
            torch.Generator().set_state(state)  # a state a CPU generator refuses is refused here, before anything is set
    except Exception:  # noqa: BLE001 - a damaged file is progress lost, not an error
        return fresh
    torch.set_rng_state(torch_state)
    generator.set_state(generator_state)
    return EvalProgress(identity, models, [float(a) for a in meta["accuracies"]],
                        [[float(a) for a in per_net] for per_net in meta["periodic"]], float(meta["seconds"]))


def _valid_metadata(meta: Any) -> bool:
    def numbers(values: Any) -> bool:
        return isinstance(values, list) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)

    def count(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0

    return (isinstance(meta, dict) and isinstance(meta.get("identity"), str)
            and count(meta.get("models")) and count(meta.get("done")) and meta["done"] < meta["models"]
            and numbers(meta.get("accuracies")) and len(meta["accuracies"]) == meta["done"]
            and isinstance(meta.get("periodic"), list) and len(meta["periodic"]) == meta["done"]
            and all(numbers(p) for p in meta["periodic"]) and numbers([meta.get("seconds")]))
