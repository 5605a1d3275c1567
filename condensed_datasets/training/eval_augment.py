"""DC's evaluation augmentation for MNIST: one of crop, scale or rotate per image (not differentiable).

Following VICO-UoE/DatasetCondensation ``utils.py`` ``augment`` with the parameters of
``get_daparam`` (crop 4, scale 0.2, rotate 45, strategy ``crop_scale_rotate``): per image one op is
drawn uniformly; ``crop`` pads by 4 px with the batch's per-channel mean and takes a window at an
offset of -4..+3 px; ``scale`` resizes (nearest) to ``int(U(0.8, 1.2) * H)`` x ``int(U(0.8, 1.2) * H)``
on a zero canvas and centre-crops back; ``rotate`` turns by an integer angle in [-45, 44] degrees
(expanded canvas, filled with the mean of the channel means) and centre-crops. The reference rotates
with scipy's cubic spline; torchvision's bilinear rotation is used here (no scipy).

The reference loops over the images in Python; here every draw is made for the whole batch and each op
runs once on the images that picked it (``rotate_batch`` and ``scale_batch`` equal torchvision's
per-image results, pinned by tests), so a batch costs a few batched calls instead of one call per image
(the measured speed-up is in docs/performance.md, "Always on").
"""

from __future__ import annotations

import math

import torch
from torch import Generator, Tensor
from torch.nn import functional as F

from condensed_datasets.training.devices import to_device

OPS = ("crop", "scale", "rotate", "noise")


class DCAugment:
    """Callable ``(images [n, C, H, W], generator) -> augmented copy``; every draw comes from ``generator``."""

    def __init__(self, strategy: str = "crop_scale_rotate", crop: int = 4, scale: float = 0.2, rotate: int = 45,
                 noise: float = 0.001) -> None:
        self.ops = strategy.split("_")
        unknown = [op for op in self.ops if op not in OPS]
        if unknown:
            raise ValueError(f"unknown DC augmentation {unknown[0]!r}; valid choices: {', '.join(OPS)}")
        self.crop, self.scale, self.rotate, self.noise = crop, scale, rotate, noise

    def __repr__(self) -> str:
        return f"DCAugment({'_'.join(self.ops)}, crop={self.crop}, scale={self.scale}, rotate={self.rotate})"

    def __call__(self, images: Tensor, generator: Generator) -> Tensor:
        """Each image gets one op; all draws are made for the whole batch at once, then each op runs on its images."""
        x = images.detach().clone()
        n, c, h, w = x.shape
        mean = x.mean(dim=(0, 2, 3))  # per channel, of the whole batch, before any op (as the reference)
        chosen = torch.randint(len(self.ops), (n,), generator=generator)
        offsets = torch.randint(2 * self.crop, (n, 2), generator=generator)
        factors = 1 - self.scale + 2 * self.scale * torch.rand(n, 2, generator=generator)
        angles = torch.randint(-self.rotate, self.rotate, (n,), generator=generator)
        noise = to_device(torch.randn(x.shape, generator=generator), x.device) if "noise" in self.ops else None
        for k, op in enumerate(self.ops):
            picked = (chosen == k).nonzero().flatten()
            if len(picked) == 0:
                continue
            if op == "crop":
                x[picked] = crop_batch(x[picked], offsets[picked], mean, self.crop)
            elif op == "scale":
                x[picked] = scale_batch(x[picked], factors[picked])
            elif op == "rotate":
                x[picked] = rotate_batch(x[picked], angles[picked], float(mean.mean()))
            else:
                x[picked] = x[picked] + self.noise * noise[picked.to(noise.device)]
        return x


def crop_batch(x: Tensor, offsets: Tensor, fill: Tensor, pad: int) -> Tensor:
    """Image i padded by ``pad`` px of the per-channel ``fill``, then the window at ``offsets[i]`` (row, col)."""
    n, c, h, w = x.shape
    canvas = fill.view(1, c, 1, 1).expand(n, c, h + 2 * pad, w + 2 * pad).clone()
    canvas[:, :, pad:pad + h, pad:pad + w] = x
    offsets = to_device(offsets, x.device)
    rows = (offsets[:, :1] + torch.arange(h, device=x.device))[:, :, None]  # [n, h, 1]
    cols = (offsets[:, 1:] + torch.arange(w, device=x.device))[:, None, :]  # [n, 1, w]
    return canvas.permute(0, 2, 3, 1)[torch.arange(n, device=x.device)[:, None, None], rows, cols].permute(0, 3, 1, 2)


def scale_batch(x: Tensor, factors: Tensor) -> Tensor:
    """Image i resized (nearest) to ``int(f0 * H) x int(f1 * H)``, centred on a zero canvas, centre-cropped to H x W.

    The same pixels as ``F.interpolate(..., mode='nearest')`` image by image: source index
    ``floor(dst * (in / out))`` in float32, as ATen computes it.
    """
    n, c, h, w = x.shape
    sizes = (factors.double() * h).long()  # [n, 2]: int(f * H), both from the height as the reference
    side = torch.maximum(sizes.max(dim=1).values, torch.tensor(max(h, w)))[:, None]
    rows, valid_r = _nearest_rows(h, sizes[:, :1], side)
    cols, valid_c = _nearest_rows(w, sizes[:, 1:], side)
    picked = x.permute(0, 2, 3, 1)[torch.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)
    return picked * (valid_r[:, :, None] & valid_c[:, None, :]).unsqueeze(1).to(x.device, x.dtype)


def _nearest_rows(size: int, resized: Tensor, side: Tensor) -> tuple[Tensor, Tensor]:
    """For each output row of the centre crop: the source row of the nearest resize, and whether it lies on the image."""
    dst = torch.arange(size) + (side - size) // 2 - (side - resized) // 2  # [n, size]: row within the resized image
    scale = torch.tensor(float(size), dtype=torch.float32) / resized.to(torch.float32)
    src = (dst.to(torch.float32) * scale).floor().long().clamp(0, size - 1)
    return src, (dst >= 0) & (dst < resized)


def rotate_batch(x: Tensor, angles: Tensor, fill: float) -> Tensor:
    """Image i turned by ``angles[i]`` degrees as ``TF.rotate(bilinear, expand=True, fill)`` then centre-cropped.

    One ``grid_sample`` for the batch: each image's sampling grid is the centre H x W window of the
    expanded canvas torchvision would build (its size from the rotated corners, as
    ``_compute_affine_output_size``), so a canvas of odd extra size shifts the window by half a pixel.
    """
    n, c, h, w = x.shape
    radians = [math.radians(float(a)) for a in angles.tolist()]
    theta = torch.tensor([[[math.cos(t), -math.sin(t), 0.0], [math.sin(t), math.cos(t), 0.0]] for t in radians],
                         dtype=torch.float32)  # torchvision's inverse matrix of a rotation by +angle
    corners = torch.tensor([[-0.5 * w, -0.5 * h, 1.0], [-0.5 * w, 0.5 * h, 1.0], [0.5 * w, 0.5 * h, 1.0],
                            [0.5 * w, -0.5 * h, 1.0]])
    turned = corners @ theta.transpose(1, 2)  # [n, 4, 2]
    half = torch.tensor((w * 0.5, h * 0.5))
    tol = 1e-4  # as torchvision: truncate to 1e-4 so that ceil(1e-15) is not 1
    high = torch.ceil(((turned.max(dim=1).values + half) / tol).trunc() * tol)
    low = torch.floor(((turned.min(dim=1).values + half) / tol).trunc() * tol)
    expanded = (high - low).long()  # [n, 2]: (ow, oh)
    ow, oh = expanded[:, 0:1].float(), expanded[:, 1:2].float()
    left, top = torch.div(expanded[:, 0:1] - w, 2, rounding_mode="floor"), torch.div(expanded[:, 1:2] - h, 2, rounding_mode="floor")
    xs = -ow * 0.5 + 0.5 + left + torch.arange(w)  # [n, w]: canvas x of the window's columns, about the centre
    ys = -oh * 0.5 + 0.5 + top + torch.arange(h)  # [n, h]
    base = torch.stack([xs[:, None, :].expand(n, h, w), ys[:, :, None].expand(n, h, w), torch.ones(n, h, w)], dim=-1)
    grid = base.view(n, h * w, 3).bmm(theta.transpose(1, 2) / torch.tensor([0.5 * w, 0.5 * h])).view(n, h, w, 2)
    with_mask = torch.cat([x, x.new_ones(n, 1, h, w)], dim=1)
    sampled = F.grid_sample(with_mask, grid.to(x.device, x.dtype), mode="bilinear", padding_mode="zeros", align_corners=False)
    mask = sampled[:, -1:].expand(n, c, h, w)
    return sampled[:, :-1] * mask + (1.0 - mask) * fill
