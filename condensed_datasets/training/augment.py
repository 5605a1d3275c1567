"""Differentiable siamese augmentation (DSA) and CutMix.

An augmentation is *sampled* once (`DiffAugment.sample`) and then *applied* to any number of batches:
sampling with ``shared=True`` draws one parameter set for the whole batch, so the real and the
synthetic batch of a class get the very same transform (the siamese part of DSA). Every op is a
differentiable function of the images. Parameters are drawn on the CPU from a ``torch.Generator``,
so a seed gives the same augmentation on every device.

Two compositions of a strategy string such as ``color_crop_cutout_flip_scale_rotate`` exist
(`methods.md` §3): ``single`` (DC/DSA/DM/IDM: one op family chosen per call) and ``idc``
(flip, color, one geometric op, cutout, in that order).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import Generator, Tensor
from torch.nn import functional as F

from condensed_datasets.core.registry import Registry
from condensed_datasets.training.devices import to_device

# The reference magnitudes (VICO ParamDiffAug).
PROB_FLIP = 0.5
RATIO_SCALE = 1.2
RATIO_ROTATE = 15.0
RATIO_CROP_PAD = 0.125
RATIO_CUTOUT = 0.5
BRIGHTNESS = 1.0
SATURATION = 2.0
CONTRAST = 0.5

Params = dict[str, Tensor]


@dataclass(frozen=True)
class AugOp:
    """One op family: how to draw its parameters and how to apply them."""

    sample: Callable[[int, int, int, Generator], Params]  # (n, height, width, generator)
    apply: Callable[[Tensor, Params], Tensor]


OPS: Registry[AugOp] = Registry("augmentation op")
GEOMETRIC = ("crop", "scale", "rotate")


def _u(n: int, g: Generator) -> Tensor:
    return torch.rand(n, generator=g)


def _per_sample(p: Tensor, x: Tensor) -> Tensor:
    """Parameters on the images' device, broadcast to the batch when one set is shared."""
    p = to_device(p, x.device)
    return p.expand(x.shape[0]) if p.shape[0] == 1 else p


def _color_apply(x: Tensor, p: Params) -> Tensor:
    view = (-1, 1, 1, 1)
    x = x + (_per_sample(p["brightness"], x).to(x.dtype) - 0.5).view(view) * BRIGHTNESS
    if x.shape[1] > 1:  # saturation is a no-op for one channel
        m = x.mean(dim=1, keepdim=True)
        x = (x - m) * (_per_sample(p["saturation"], x).to(x.dtype) * SATURATION).view(view) + m
    m = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - m) * (_per_sample(p["contrast"], x).to(x.dtype) + CONTRAST).view(view) + m


def _crop_sample(n: int, h: int, w: int, g: Generator) -> Params:
    sh, sw = int(h * RATIO_CROP_PAD + 0.5), int(w * RATIO_CROP_PAD + 0.5)
    return {"dx": torch.randint(-sw, sw + 1, (n,), generator=g), "dy": torch.randint(-sh, sh + 1, (n,), generator=g)}


def _crop_apply(x: Tensor, p: Params) -> Tensor:
    """Integer translation; uncovered pixels become 0 (gather from a zero-padded copy)."""
    n, _, h, w = x.shape
    dx, dy = _per_sample(p["dx"], x), _per_sample(p["dy"], x)
    gy = (torch.arange(h, device=x.device)[None] + dy[:, None] + 1).clamp(0, h + 1)
    gx = (torch.arange(w, device=x.device)[None] + dx[:, None] + 1).clamp(0, w + 1)
    padded = F.pad(x, (1, 1, 1, 1))
    rows = torch.arange(n, device=x.device)[:, None, None, None]
    channels = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
    # indexing all four dims yields [n, c, h, w] in the standard layout (a gather of [n, h, w] rows then
    # permuted would be channels-last, which a 1-channel batch cannot even be told apart from, see below)
    return padded[rows, channels, gy[:, None, :, None], gx[:, None, None, :]]


def _cutout_sample(n: int, h: int, w: int, g: Generator) -> Params:
    sh, sw = int(h * RATIO_CUTOUT + 0.5), int(w * RATIO_CUTOUT + 0.5)
    return {"cx": torch.randint(0, w + (1 - sw % 2), (n,), generator=g), "cy": torch.randint(0, h + (1 - sh % 2), (n,), generator=g)}


def _cutout_apply(x: Tensor, p: Params) -> Tensor:
    """Zero one square of half the image side per image, centred at (cx, cy), clipped at borders."""
    _, _, h, w = x.shape
    sh, sw = int(h * RATIO_CUTOUT + 0.5), int(w * RATIO_CUTOUT + 0.5)
    cx, cy = _per_sample(p["cx"], x), _per_sample(p["cy"], x)
    ys = torch.arange(h, device=x.device)[None, :, None]
    xs = torch.arange(w, device=x.device)[None, None, :]
    top, left = (cy - sh // 2)[:, None, None], (cx - sw // 2)[:, None, None]
    inside = (ys >= top) & (ys < top + sh) & (xs >= left) & (xs < left + sw)
    return x * (~inside).unsqueeze(1).to(x.dtype)


def _flip_apply(x: Tensor, p: Params) -> Tensor:
    flip = (_per_sample(p["u"], x) < PROB_FLIP).view(-1, 1, 1, 1)
    return torch.where(flip, x.flip(3), x)


def _affine(x: Tensor, theta: Tensor) -> Tensor:
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, align_corners=False)


def _scale_apply(x: Tensor, p: Params) -> Tensor:
    sx, sy = _per_sample(p["sx"], x), _per_sample(p["sy"], x)
    zero = torch.zeros_like(sx)
    theta = torch.stack([torch.stack([sx, zero, zero], 1), torch.stack([zero, sy, zero], 1)], 1)
    return _affine(x, theta)


def _rotate_apply(x: Tensor, p: Params) -> Tensor:
    a = _per_sample(p["angle"], x)
    zero = torch.zeros_like(a)
    theta = torch.stack([torch.stack([a.cos(), -a.sin(), zero], 1), torch.stack([a.sin(), a.cos(), zero], 1)], 1)
    return _affine(x, theta)


def _scale_range(n: int, g: Generator) -> Tensor:
    return _u(n, g) * (RATIO_SCALE - 1.0 / RATIO_SCALE) + 1.0 / RATIO_SCALE


OPS.register("color", AugOp(lambda n, h, w, g: {"brightness": _u(n, g), "saturation": _u(n, g), "contrast": _u(n, g)}, _color_apply))
OPS.register("crop", AugOp(_crop_sample, _crop_apply))
OPS.register("cutout", AugOp(_cutout_sample, _cutout_apply))
OPS.register("flip", AugOp(lambda n, h, w, g: {"u": _u(n, g)}, _flip_apply))
OPS.register("scale", AugOp(lambda n, h, w, g: {"sx": _scale_range(n, g), "sy": _scale_range(n, g)}, _scale_apply))
OPS.register("rotate", AugOp(lambda n, h, w, g: {"angle": (_u(n, g) - 0.5) * 2 * RATIO_ROTATE / 180 * math.pi}, _rotate_apply))


@dataclass
class SampledAugmentation:
    """A drawn augmentation: a sequence of (op, parameters); call it on any batch."""

    steps: list[tuple[str, Params]]
    _moved: dict[torch.device, list[tuple[str, Params]]] = field(default_factory=dict, repr=False, compare=False)

    def on(self, device: torch.device) -> list[tuple[str, Params]]:
        """The steps with their parameters on ``device``, copied once per device (the real and the synthetic
        batch of a siamese draw share one copy)."""
        if device not in self._moved:
            self._moved[device] = [(name, {k: to_device(v, device) for k, v in params.items()}) for name, params in self.steps]
        return self._moved[device]

    def __call__(self, x: Tensor) -> Tensor:
        for name, params in self.on(x.device):
            x = OPS.get(name).apply(x, params)
        # A ConvNet on CPU runs its GroupNorm (instance norm) and ReLU backward several times slower on a
        # channels-last batch (see `benchmarks/recipe_speed.py`). ``contiguous()`` cannot see the layout of a
        # 1-channel batch (strides of size-1 dims do not count) while convolutions still take it for
        # channels-last: `standard_layout` rewrites any batch whose strides are not the row-major ones.
        return standard_layout(x)


def standard_layout(x: Tensor) -> Tensor:
    """``x`` with row-major (NCHW) strides, copied only when its strides differ from them."""
    expected = torch.empty(x.shape, device="meta").stride()
    return x if x.stride() == expected else x.clone(memory_format=torch.contiguous_format)


COMPOSITIONS = ("single", "idc")


class DiffAugment:
    """A DSA strategy such as ``color_crop_cutout_flip_scale_rotate``.

    Args:
        strategy: op names joined by ``_`` (from `OPS`); ``""`` or ``"none"`` means no augmentation.
        composition: ``single`` (one op family per call, VICO) or ``idc`` (flip, color, one geometric, cutout).
    """

    def __init__(self, strategy: str, composition: str = "single") -> None:
        self.tokens = [] if strategy in ("", "none", "None") else strategy.split("_")
        for token in self.tokens:
            OPS.get(token)  # validates with the list of valid ops
        if composition not in COMPOSITIONS:
            raise ValueError(f"unknown composition {composition!r}; valid choices: {', '.join(COMPOSITIONS)}")
        self.strategy, self.composition = strategy, composition

    def __repr__(self) -> str:
        return f"DiffAugment({self.strategy!r}, composition={self.composition!r})"

    def _choose(self, options: list[str], g: Generator) -> str:
        return options[int(torch.randint(len(options), (1,), generator=g))]

    def sample(self, n: int, image_size: tuple[int, int], generator: Generator, shared: bool = False) -> SampledAugmentation:
        """Draw the ops and their parameters: per image for ``n`` images, or one set if ``shared``."""
        if not self.tokens:
            return SampledAugmentation([])
        if self.composition == "single":
            names = [self._choose(self.tokens, generator)]
        else:
            geometric = [t for t in self.tokens if t in GEOMETRIC]
            names = [t for t in ("flip", "color") if t in self.tokens]
            names += [self._choose(geometric, generator)] if geometric else []
            names += ["cutout"] if "cutout" in self.tokens else []
        count = 1 if shared else n
        h, w = image_size
        return SampledAugmentation([(name, OPS.get(name).sample(count, h, w, generator)) for name in names])

    def __call__(self, x: Tensor, generator: Generator, shared: bool = False) -> Tensor:
        """Augment one batch (per-image parameters unless ``shared``)."""
        return self.sample(x.shape[0], (x.shape[2], x.shape[3]), generator, shared)(x)


def cutmix(x: Tensor, generator: Generator) -> tuple[Tensor, Tensor, float]:
    """CutMix (IDC): paste a random box from a shuffled partner batch.

    Returns the mixed images, the partner permutation and ``r``, the share of each image that is
    still its own; the loss is ``r * CE(y) + (1 - r) * CE(y[perm])``.
    """
    n, _, h, w = x.shape
    lam = float(torch.rand(1, generator=generator))  # Beta(1, 1)
    perm = to_device(torch.randperm(n, generator=generator), x.device)
    cut = math.sqrt(1.0 - lam)
    cw, ch = int(w * cut), int(h * cut)
    cx, cy = int(torch.randint(w, (1,), generator=generator)), int(torch.randint(h, (1,), generator=generator))
    x1, x2 = max(cx - cw // 2, 0), min(cx + cw // 2, w)
    y1, y2 = max(cy - ch // 2, 0), min(cy + ch // 2, h)
    mixed = x.clone()
    mixed[:, :, y1:y2, x1:x2] = x[perm, :, y1:y2, x1:x2]
    return mixed, perm, 1.0 - (x2 - x1) * (y2 - y1) / (w * h)
