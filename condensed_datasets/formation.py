"""Decoders: stored images -> training images. Differentiable, shared by recipes and the loader.

Every decoder returns ``(decoded_images, source)`` where ``source[i]`` is the stored image that
decoded image ``i`` came from, so labels (hard or soft) follow by indexing.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import torch
from torch import Tensor
from torch.nn import functional as F

from .condensed_set import DecoderSpec
from .registry import Registry

DecodeFn = Callable[[Tensor, Tensor, dict[str, Any], dict[str, Tensor]], tuple[Tensor, Tensor]]
DECODERS: Registry[DecodeFn] = Registry("decoder")


def decode(spec: DecoderSpec, images: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    """Apply the decoder named in ``spec`` (unknown names raise a clear error)."""
    return DECODERS.get(spec.name)(images, labels, spec.params, spec.weights)


def list_decoders() -> list[str]:
    """Names of the registered decoders."""
    return DECODERS.names()


@DECODERS.register("identity")
def _identity(images: Tensor, labels: Tensor, params: dict[str, Any], weights: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
    return images, torch.arange(images.shape[0], device=images.device)


def split_and_upsample(images: Tensor, factor: int, pad_value: list[float] | None = None) -> Tensor:
    """IDC multi-formation of a batch: ``[n, C, H, W] -> [f*f, n, C, H, W]``.

    Pads right/bottom to a multiple of ``factor`` with ``pad_value`` (per channel), cuts an f x f
    grid of side ceil(H/f), row-major, and resizes every part back to H x W (bilinear,
    ``align_corners=False``).
    """
    n, c, h, w = images.shape
    side_h, side_w = math.ceil(h / factor), math.ceil(w / factor)
    ph, pw = side_h * factor - h, side_w * factor - w
    x = images
    if ph or pw:
        fill = torch.tensor(pad_value if pad_value is not None else [0.0] * c, dtype=images.dtype, device=images.device)
        x = torch.cat([x, fill.view(1, c, 1, 1).expand(n, c, h, pw)], dim=3)
        x = torch.cat([x, fill.view(1, c, 1, 1).expand(n, c, ph, w + pw)], dim=2)
    parts = [x[:, :, i * side_h:(i + 1) * side_h, j * side_w:(j + 1) * side_w] for i in range(factor) for j in range(factor)]
    stacked = torch.cat(parts, dim=0)
    if (side_h, side_w) != (h, w):
        stacked = F.interpolate(stacked, size=(h, w), mode="bilinear", align_corners=False)
    return stacked.view(factor * factor, n, c, h, w)


def _class_major(images: Tensor, labels: Tensor, per_class: Callable[[Tensor], Tensor]) -> tuple[Tensor, Tensor]:
    """Decode each class's stored images with ``per_class`` (-> ``[k, n_c, ...]``) and concatenate class-major."""
    out, source = [], []
    for c in torch.unique(labels, sorted=True):
        idx = torch.nonzero(labels == c).flatten()
        parts = per_class(images[idx])
        out.append(parts.reshape(-1, *images.shape[1:]))
        source.append(idx.repeat(parts.shape[0]))
    return torch.cat(out), torch.cat(source)


@DECODERS.register("multi_formation")
def _multi_formation(images: Tensor, labels: Tensor, params: dict[str, Any], weights: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
    factor = int(params.get("factor", 2))
    return _class_major(images, labels, lambda x: split_and_upsample(x, factor, params.get("pad_value")))


def multi_formation_spec(factor: int, mean: tuple[float, ...], std: tuple[float, ...]) -> DecoderSpec:
    """The IDC/IDM decoder spec; padding uses pixel value 0.5 expressed in normalised space."""
    return DecoderSpec("multi_formation", {"factor": factor, "pad_value": [(0.5 - m) / s for m, s in zip(mean, std)]})
