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


def _class_major(images: Tensor, labels: Tensor, parts_of: Callable[[Tensor], Tensor]) -> tuple[Tensor, Tensor]:
    """Decode all stored images at once with ``parts_of`` (-> ``[k, n, ...]``) and order the result
    class-major and part-major within a class (IDC's order): class c's part 0 of each of its images,
    then part 1, ...
    """
    parts = parts_of(images)
    k, n = parts.shape[0], parts.shape[1]
    part_ids = torch.arange(k, device=images.device)
    order = [(part_ids[:, None] * n + idx[None, :]).flatten()
             for idx in (torch.nonzero(labels == c).flatten() for c in torch.unique(labels, sorted=True))]
    flat = torch.cat(order)
    return parts.reshape(k * n, *images.shape[1:])[flat], flat % n


@DECODERS.register("multi_formation")
def _multi_formation(images: Tensor, labels: Tensor, params: dict[str, Any], weights: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
    factor = int(params.get("factor", 2))
    return _class_major(images, labels, lambda x: split_and_upsample(x, factor, params.get("pad_value")))


def multi_formation_spec(factor: int, mean: tuple[float, ...], std: tuple[float, ...]) -> DecoderSpec:
    """The IDC/IDM decoder spec; padding uses pixel value 0.5 expressed in normalised space."""
    return DecoderSpec("multi_formation", {"factor": factor, "pad_value": [(0.5 - m) / s for m, s in zip(mean, std)]})


@DECODERS.register("multi_scale")
def _multi_scale(images: Tensor, labels: Tensor, params: dict[str, Any], weights: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
    """IDC appendix D: the same stored pixels decoded at several factors (e.g. 1 and 2), concatenated."""
    factors = [int(f) for f in params.get("factors", (1, 2))]
    pad = params.get("pad_value")
    return _class_major(images, labels, lambda x: torch.cat([split_and_upsample(x, f, pad) for f in factors]))


# --- learned upsampler (FSRCNN-style) --------------------------------------------------------

def _learned_layers(params: dict[str, Any]) -> list[tuple[str, int, int, int]]:
    """(weight name, in, out, kernel) of each conv: feature extraction, shrink, mapping, expand."""
    c, d, s, m = int(params["channels"]), int(params.get("d", 16)), int(params.get("s", 8)), int(params.get("m", 2))
    layers = [("extract", c, d, 5), ("shrink", d, s, 1)]
    layers += [(f"map{i}", s, s, 3) for i in range(m)]
    return layers + [("expand", s, d, 1)]


def learned_decoder_init(channels: int, scale: int = 2, d: int = 16, s: int = 8, m: int = 2,
                         generator: torch.Generator | None = None) -> tuple[dict[str, Any], dict[str, Tensor]]:
    """Params and freshly initialised weights of a `learned` decoder (He-normal convs, PReLU 0.25)."""
    params = {"channels": channels, "scale": scale, "d": d, "s": s, "m": m}
    weights: dict[str, Tensor] = {}
    for name, cin, cout, k in _learned_layers(params):
        weights[f"{name}.weight"] = torch.randn(cout, cin, k, k, generator=generator) * math.sqrt(2.0 / (cout * k * k))
        weights[f"{name}.bias"] = torch.zeros(cout)
        weights[f"{name}.prelu"] = torch.full((cout,), 0.25)
    weights["deconv.weight"] = torch.randn(d, channels, 9, 9, generator=generator) * 0.001
    weights["deconv.bias"] = torch.zeros(channels)
    return params, weights


def learned_upsample(images: Tensor, params: dict[str, Any], weights: dict[str, Tensor]) -> Tensor:
    """FSRCNN forward: convs with PReLU at low resolution, then a stride-``scale`` transposed conv."""
    x = images
    for name, _, _, k in _learned_layers(params):
        x = F.prelu(F.conv2d(x, weights[f"{name}.weight"], weights[f"{name}.bias"], padding=k // 2), weights[f"{name}.prelu"])
    scale = int(params["scale"])
    return F.conv_transpose2d(x, weights["deconv.weight"], weights["deconv.bias"], stride=scale, padding=4, output_padding=scale - 1)


@DECODERS.register("learned")
def _learned(images: Tensor, labels: Tensor, params: dict[str, Any], weights: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
    """Stored low-resolution images, upsampled by a small learned network whose weights travel in the file."""
    missing = [name for name in learned_decoder_init(int(params["channels"]), int(params["scale"]), int(params.get("d", 16)),
                                                     int(params.get("s", 8)), int(params.get("m", 2)))[1] if name not in weights]
    if missing:
        raise ValueError(f"the learned decoder lacks weights {missing}")
    weights = {k: v.to(images.device, images.dtype) for k, v in weights.items()}
    return learned_upsample(images, params, weights), torch.arange(images.shape[0], device=images.device)
