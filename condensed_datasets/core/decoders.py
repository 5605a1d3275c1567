"""Decoders: stored images -> training images. Differentiable, shared by recipes and the loader.

Every decoder returns ``(decoded_images, source)`` where ``source[i]`` is the stored image that
decoded image ``i`` came from, so labels (hard or soft) follow by indexing. Every decoder also
checks its parameters against the stored images before it decodes (`check_decoder`): a parameter
outside its domain, or one that would make more training images than the stored pixels can yield,
is a `ValueError` naming it, never a huge allocation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import Tensor
from torch.nn import functional as F

from condensed_datasets.core.condensed_set import DecoderSpec
from condensed_datasets.core.errors import brief
from condensed_datasets.core.registry import Registry

DecodeFn = Callable[[Tensor, Tensor, dict[str, Any], dict[str, Tensor]], tuple[Tensor, Tensor]]
CheckFn = Callable[[dict[str, Any], tuple[int, int, int], dict[str, Tensor]], None]


@dataclass(frozen=True)
class Decoder:
    """A decoder and the check of its parameters against the stored images' ``(C, H, W)`` and its weights."""

    decode: DecodeFn
    check: CheckFn


DECODERS: Registry[Decoder] = Registry("decoder")
MAX_LEARNED_SCALE = 8  # the learned upsampler's output side, in multiples of the stored side
MAX_LEARNED_WIDTH = 256  # its feature maps (d, s) ...
MAX_LEARNED_DEPTH = 16  # ... and mapping layers (m)


def _register(name: str, check: CheckFn) -> Callable[[DecodeFn], DecodeFn]:
    def decorator(fn: DecodeFn) -> DecodeFn:
        DECODERS.register(name, Decoder(fn, check))
        return fn

    return decorator


def check_decoder(name: str, params: Any, image_shape: tuple[int, ...], weights: dict[str, Tensor]) -> None:
    """Refuse a decoder spec that its decoder cannot apply to stored images of ``image_shape`` ``(C, H, W)``.

    An unknown name is an `UnknownNameError` listing the decoders; a parameter outside its domain a
    `ValueError` naming the parameter, its value and the limit.
    """
    decoder = DECODERS.get(name)
    if not isinstance(params, dict):
        raise ValueError(f"decoder {name!r}: params must be an object, got {brief(params)}")
    try:
        decoder.check(params, tuple(int(x) for x in image_shape), weights)
    except ValueError as err:
        raise ValueError(f"decoder {name!r}: {err}") from None


def decode(spec: DecoderSpec, images: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    """Apply the decoder named in ``spec``, after `check_decoder` (unknown names and bad params raise clear errors)."""
    check_decoder(spec.name, spec.params, tuple(images.shape[1:]), spec.weights)
    return DECODERS.get(spec.name).decode(images, labels, spec.params, spec.weights)


def list_decoders() -> list[str]:
    """Names of the registered decoders."""
    return DECODERS.names()


def _only(params: dict[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(str(k) for k in params if k not in allowed)
    if unknown:
        raise ValueError(f"unknown parameter(s) {brief(unknown)}; valid: {', '.join(allowed) or 'none'}")


def _integer(params: dict[str, Any], key: str, low: int, high: int, default: int | None = None) -> int:
    value = params.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValueError(f"{key} {brief(value)} must be an integer from {low} to {high}")
    return value


def _check_factor(factor: Any, shape: tuple[int, int, int], what: str = "factor") -> None:
    """A multi-formation factor: every part of the f x f grid must hold stored pixels (no part of padding only),
    so the decoded set never holds more images than the stored pixels can make."""
    _, h, w = shape
    _integer({what: factor}, what, 1, min(h, w))
    for side in (h, w):
        if (factor - 1) * math.ceil(side / factor) >= side:
            raise ValueError(f"{what} {factor} cuts {h} x {w} images into parts of which some hold only padding "
                             "(every part must cover stored pixels)")


def _check_pad(params: dict[str, Any], channels: int) -> None:
    pad = params.get("pad_value")
    if pad is not None and (not isinstance(pad, (list, tuple)) or len(pad) != channels or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in pad)):
        raise ValueError(f"pad_value {brief(pad)} must be a list of {channels} finite numbers (one per channel)")


def _check_identity(params: dict[str, Any], shape: tuple[int, int, int], weights: dict[str, Tensor]) -> None:
    _only(params, ())


def _check_multi_formation(params: dict[str, Any], shape: tuple[int, int, int], weights: dict[str, Tensor]) -> None:
    _only(params, ("factor", "pad_value"))
    _check_factor(params.get("factor", 2), shape)
    _check_pad(params, shape[0])


def _check_multi_scale(params: dict[str, Any], shape: tuple[int, int, int], weights: dict[str, Tensor]) -> None:
    _only(params, ("factors", "pad_value"))
    factors = params.get("factors", [1, 2])
    if not isinstance(factors, (list, tuple)) or not factors:
        raise ValueError(f"factors {brief(factors)} must be a non-empty list of integers")
    for factor in factors:
        _check_factor(factor, shape, "each of factors")
    if len(set(factors)) != len(factors):
        raise ValueError(f"factors {brief(factors)} repeat a factor (each scale once)")
    _check_pad(params, shape[0])


def _check_learned(params: dict[str, Any], shape: tuple[int, int, int], weights: dict[str, Tensor]) -> None:
    _only(params, ("channels", "scale", "d", "s", "m"))
    if params.get("channels") != shape[0]:
        raise ValueError(f"channels {brief(params.get('channels'))} must be the stored images' {shape[0]} channels")
    _integer(params, "scale", 1, MAX_LEARNED_SCALE)
    for key, default, low, high in (("d", 16, 1, MAX_LEARNED_WIDTH), ("s", 8, 1, MAX_LEARNED_WIDTH), ("m", 2, 0, MAX_LEARNED_DEPTH)):
        _integer(params, key, low, high, default)
    expected = _learned_shapes(params)
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    if missing or unexpected:
        raise ValueError(f"weights missing {brief(missing)}, unexpected {brief(unexpected)}")
    for name, want in expected.items():
        if tuple(weights[name].shape) != want:
            raise ValueError(f"weight {name!r} is {list(weights[name].shape)}, expected {list(want)}")


@_register("identity", _check_identity)
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


@_register("multi_formation", _check_multi_formation)
def _multi_formation(images: Tensor, labels: Tensor, params: dict[str, Any], weights: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
    factor = int(params.get("factor", 2))
    return _class_major(images, labels, lambda x: split_and_upsample(x, factor, params.get("pad_value")))


def multi_formation_spec(factor: int, mean: tuple[float, ...], std: tuple[float, ...]) -> DecoderSpec:
    """The IDC/IDM decoder spec; padding uses pixel value 0.5 expressed in normalised space."""
    return DecoderSpec("multi_formation", {"factor": factor, "pad_value": [(0.5 - m) / s for m, s in zip(mean, std)]})


@_register("multi_scale", _check_multi_scale)
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


def _learned_shapes(params: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every weight the learned decoder with ``params`` needs."""
    shapes: dict[str, tuple[int, ...]] = {}
    for name, cin, cout, k in _learned_layers(params):
        shapes.update({f"{name}.weight": (cout, cin, k, k), f"{name}.bias": (cout,), f"{name}.prelu": (cout,)})
    channels, d = int(params["channels"]), int(params.get("d", 16))
    return {**shapes, "deconv.weight": (d, channels, 9, 9), "deconv.bias": (channels,)}


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


@_register("learned", _check_learned)
def _learned(images: Tensor, labels: Tensor, params: dict[str, Any], weights: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
    """Stored low-resolution images, upsampled by a small learned network whose weights travel in the file."""
    weights = {k: v.to(images.device, images.dtype) for k, v in weights.items()}
    return learned_upsample(images, params, weights), torch.arange(images.shape[0], device=images.device)
