"""Preview images: a class-by-row grid of a set's (decoded, de-normalised) images as PNG."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from condensed_datasets.core.condensed_set import CondensedSet, denormalize
from condensed_datasets.core.files import atomic_path

MAX_PER_ROW = 20
MIN_SIDE = 32  # smaller images are enlarged (nearest neighbour) so a grid stays legible


def preview_grid(cset: CondensedSet, per_class: int = MAX_PER_ROW, decoded: bool = False) -> torch.Tensor:
    """A ``[C, H', W']`` grid image in [0, 1]: one row per class, up to ``per_class`` images each.

    Rows are classes in label order; a class with fewer images leaves its row's tail blank. Images
    smaller than 32 px are enlarged by an integer factor (nearest neighbour).
    ``decoded`` shows the training images the decoder makes instead of the stored ones.
    """
    from torchvision.utils import make_grid  # torchvision is imported where it is used: it takes seconds

    with torch.no_grad():
        images, labels, _ = cset.decode_all() if decoded else (cset.images, cset.labels, None)
        pixels = denormalize(images.float(), cset.mean, cset.std).clamp(0, 1)
        if pixels.shape[-1] < MIN_SIDE:
            scale = -(-MIN_SIDE // pixels.shape[-1])
            pixels = torch.nn.functional.interpolate(pixels, scale_factor=scale, mode="nearest")
    counts = torch.bincount(labels, minlength=cset.num_classes)
    cols = max(1, min(per_class, int(counts.max()) if len(counts) else 1))
    canvas = torch.ones(cset.num_classes * cols, *pixels.shape[1:])
    for c in range(cset.num_classes):
        mine = pixels[labels == c][:cols]
        canvas[c * cols:c * cols + len(mine)] = mine
    return make_grid(canvas, nrow=cols, padding=1, pad_value=1.0)


def write_preview(cset: CondensedSet, path: str | os.PathLike, per_class: int = MAX_PER_ROW, decoded: bool = False) -> Path:
    """Save the class-by-row grid as a PNG (atomically)."""
    from torchvision.utils import save_image

    with atomic_path(path) as tmp:
        save_image(preview_grid(cset, per_class, decoded), str(tmp), format="png")
    return Path(path)


def write_viewer_export(set_path: str | os.PathLike, path: str | os.PathLike) -> Path:
    """The Hub dataset viewer's copy of a set: its decoded images and labels as parquet (written atomically)."""
    from condensed_datasets.datasets import CondensedDataset

    with atomic_path(path) as tmp:
        CondensedDataset.from_file(set_path).to_hf_dataset().to_parquet(str(tmp))
    return Path(path)
