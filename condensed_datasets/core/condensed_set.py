"""`CondensedSet`: the one representation of a synthetic set, from recipe to loader."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor


@dataclass
class DecoderSpec:
    """How stored images become training images: a registered decoder name, its params, learned weights."""

    name: str = "identity"
    params: dict[str, Any] = field(default_factory=dict)
    weights: dict[str, Tensor] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "params": self.params}

    def describe(self) -> str:
        """``multi_formation (factor=2)``: the name and the params a person cares about."""
        params = ", ".join(f"{k}={v}" for k, v in self.params.items() if k != "pad_value")
        return self.name + (f" ({params})" if params else "")


@dataclass
class CondensedSet:
    """A condensed dataset exactly as optimised.

    Attributes:
        images: float ``[n, C, H, W]`` in the source dataset's normalised space (``(x - mean) / std``).
        labels: int64 ``[n]`` class ids.
        meta: dataset, classes, mean, std, method, ipc, config, seed, package version, evaluations.
        decoder: turns stored images into training images (`decode`).
        soft_labels: optional float ``[n, num_classes]``.
    """

    images: Tensor
    labels: Tensor
    meta: dict[str, Any]
    decoder: DecoderSpec = field(default_factory=DecoderSpec)
    soft_labels: Tensor | None = None

    @property
    def dataset(self) -> str:
        return self.meta["dataset"]

    @property
    def method(self) -> str:
        return self.meta["method"]

    @property
    def ipc(self) -> int:
        return int(self.meta["ipc"])

    @property
    def classes(self) -> list[str]:
        return list(self.meta["classes"])

    @property
    def num_classes(self) -> int:
        return len(self.meta["classes"])

    @property
    def mean(self) -> tuple[float, ...]:
        return tuple(self.meta["mean"])

    @property
    def std(self) -> tuple[float, ...]:
        return tuple(self.meta["std"])

    def decode(self) -> tuple[Tensor, Tensor]:
        """The training tensors ``(images, targets)``: hard labels, or soft labels when the set has them."""
        images, labels, soft = self.decode_all()
        return images, soft if soft is not None else labels

    def decode_all(self) -> tuple[Tensor, Tensor, Tensor | None]:
        """Decoded ``(images, hard labels, soft labels or None)``, decoded once."""
        from condensed_datasets.core.decoders import decode

        images, source = decode(self.decoder, self.images, self.labels)
        source = source.to(self.labels.device)
        soft = None if self.soft_labels is None else self.soft_labels[source]
        return images, self.labels[source], soft

    def save(self, path: str | os.PathLike) -> str:
        """Write the safetensors file atomically; returns its sha256."""
        from condensed_datasets.core.storage import save

        return save(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike, sha256: str | None = None) -> "CondensedSet":
        """Read and validate a file written by `save` (never unpickles anything)."""
        from condensed_datasets.core.storage import load

        return load(path, sha256)

    def detached(self) -> "CondensedSet":
        """A copy on the CPU with no autograd history (what gets stored)."""
        return CondensedSet(
            self.images.detach().float().cpu().contiguous(), self.labels.detach().long().cpu().contiguous(), dict(self.meta),
            DecoderSpec(self.decoder.name, dict(self.decoder.params), {k: v.detach().cpu() for k, v in self.decoder.weights.items()}),
            None if self.soft_labels is None else self.soft_labels.detach().float().cpu().contiguous(),
        )


def class_major_labels(num_classes: int, ipc: int, device: torch.device | str = "cpu") -> Tensor:
    """``[0]*ipc + [1]*ipc + ...``: the label layout every recipe stores."""
    return torch.arange(num_classes, device=device).repeat_interleave(ipc)


def normalize(x: Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> Tensor:
    """``(x - mean) / std`` per channel for a ``[n, C, H, W]`` tensor in [0, 1]."""
    m = torch.tensor(mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    return (x - m) / s


def denormalize(x: Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> Tensor:
    """Inverse of `normalize`: back to pixel space (not clipped)."""
    m = torch.tensor(mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    return x * s + m
