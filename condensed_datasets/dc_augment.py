"""DC's evaluation augmentation for MNIST: one of crop, scale or rotate per image (not differentiable).

Following VICO-UoE/DatasetCondensation ``utils.py`` ``augment`` with the parameters of
``get_daparam`` (crop 4, scale 0.2, rotate 45, strategy ``crop_scale_rotate``): per image one op is
drawn uniformly; ``crop`` pads by 4 px with the batch's per-channel mean and takes a window at an
offset of -4..+3 px; ``scale`` resizes (nearest) to ``int(U(0.8, 1.2) * H)`` x ``int(U(0.8, 1.2) * H)``
on a zero canvas and centre-crops back; ``rotate`` turns by an integer angle in [-45, 44] degrees
(expanded canvas, filled with the mean of the channel means) and centre-crops. The reference rotates
with scipy's cubic spline; torchvision's bilinear rotation is used here (no scipy).
"""

from __future__ import annotations

import torch
from torch import Generator, Tensor
from torch.nn import functional as F
from torchvision.transforms import InterpolationMode
from torchvision.transforms import functional as TF

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
        x = images.detach().clone()
        mean = x.mean(dim=(0, 2, 3))  # per channel, of the whole batch, before any op (as the reference)
        for i in range(len(x)):
            op = self.ops[int(torch.randint(len(self.ops), (1,), generator=generator))]
            x[i] = getattr(self, f"_{op}")(x[i], mean, generator)
        return x

    def _crop(self, image: Tensor, mean: Tensor, g: Generator) -> Tensor:
        c, h, w = image.shape
        canvas = mean.view(c, 1, 1).expand(c, h + 2 * self.crop, w + 2 * self.crop).clone()
        canvas[:, self.crop:self.crop + h, self.crop:self.crop + w] = image
        r, s = (int(v) for v in torch.randint(2 * self.crop, (2,), generator=g))
        return canvas[:, r:r + h, s:s + w]

    def _scale(self, image: Tensor, mean: Tensor, g: Generator) -> Tensor:
        c, h, w = image.shape
        factors = 1 - self.scale + 2 * self.scale * torch.rand(2, generator=g)
        sh, sw = int(float(factors[0]) * h), int(float(factors[1]) * h)  # both from the height, as the reference
        resized = F.interpolate(image[None], size=[sh, sw], mode="nearest")[0]
        side = max(sh, sw, h, w)
        canvas = image.new_zeros(c, side, side)
        top, left = (side - sh) // 2, (side - sw) // 2
        canvas[:, top:top + sh, left:left + sw] = resized
        top, left = (side - h) // 2, (side - w) // 2
        return canvas[:, top:top + h, left:left + w]

    def _rotate(self, image: Tensor, mean: Tensor, g: Generator) -> Tensor:
        c, h, w = image.shape
        angle = int(torch.randint(-self.rotate, self.rotate, (1,), generator=g))
        fill = [float(mean.mean())] * c
        turned = TF.rotate(image, angle, interpolation=InterpolationMode.BILINEAR, expand=True, fill=fill)
        top, left = (turned.shape[-2] - h) // 2, (turned.shape[-1] - w) // 2
        return turned[:, top:top + h, left:left + w]

    def _noise(self, image: Tensor, mean: Tensor, g: Generator) -> Tensor:
        return image + self.noise * torch.randn(image.shape, generator=g).to(image.device)
