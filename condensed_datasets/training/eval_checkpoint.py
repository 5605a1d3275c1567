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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import Tensor

from condensed_datasets.core.files import atomic_path

METADATA_KEY = "evaluation_progress"
RNG_TENSORS = ("rng.torch", "rng.generator")  # the global CPU RNG (initialisations), the shuffling/augmentation generator
MAX_RNG_BYTES = 1 << 16  # a CPU Mersenne Twister state is 5 056 bytes; a Philox one 16


@dataclass
class EvalProgress:
    """The networks done so far of one evaluation and where its randomness stands.

    Attributes:
        identity: what binds the file to its evaluation (`evaluation_identity`).
        models: networks the evaluation trains in all.
        done: networks finished (their results are below); the next network is number ``done``.
        accuracies: each finished network's test accuracy after the last epoch (%).
        periodic: each finished network's test accuracies at the periodic epochs (%).
        seconds: time spent on the finished networks.
        torch_state, generator_state: the RNG states after the last finished network.
    """

    identity: str
    models: int
    done: int
    accuracies: list[float]
    periodic: list[list[float]]
    seconds: float
    torch_state: Tensor
    generator_state: Tensor


def evaluation_identity(images: Tensor, targets: Tensor, settings: dict[str, Any]) -> str:
    """A digest of the training tensors and the settings that change the result (protocol, epochs, seed, ...)."""
    digest = hashlib.sha256()
    for t in (images, targets):
        t = t.detach().contiguous().cpu()
        digest.update(f"{t.dtype}{list(t.shape)}".encode())
        digest.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def save_progress(path: str | os.PathLike, progress: EvalProgress) -> None:
    """Write ``progress`` atomically (a temporary file, then a rename): never half-written."""
    meta = {"identity": progress.identity, "models": progress.models, "done": progress.done, "accuracies": progress.accuracies,
            "periodic": progress.periodic, "seconds": progress.seconds}
    tensors = {"rng.torch": progress.torch_state.contiguous(), "rng.generator": progress.generator_state.contiguous()}
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


def read_progress(path: str | os.PathLike, identity: str) -> EvalProgress | None:
    """The progress recorded at ``path`` for the evaluation ``identity``; ``None`` when the file is absent, belongs
    to another evaluation or is damaged. Its claims (keys, dtypes, sizes) are checked before a tensor is read."""
    if not Path(path).is_file():
        return None
    meta = progress_summary(path)
    if meta is None or meta["identity"] != identity:
        return None
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            if set(f.keys()) != set(RNG_TENSORS):
                return None
            for key in RNG_TENSORS:
                piece = f.get_slice(key)
                shape = piece.get_shape()
                if piece.get_dtype() != "U8" or len(shape) != 1 or not 0 < shape[0] <= MAX_RNG_BYTES:
                    return None
            torch_state, generator_state = (f.get_tensor(key) for key in RNG_TENSORS)
    except Exception:  # noqa: BLE001 - a damaged file is progress lost, not an error
        return None
    return EvalProgress(identity, meta["models"], meta["done"], [float(a) for a in meta["accuracies"]],
                        [[float(a) for a in per_net] for per_net in meta["periodic"]], float(meta["seconds"]),
                        torch_state, generator_state)


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
