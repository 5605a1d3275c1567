"""torchvision-style datasets over condensed sets: ``CondensedCIFAR10(method="idc", ipc=10)``.

Where the file comes from, in order: a set built locally under
``root/<dataset>/<method>/ipc<N>/condensed.safetensors`` (what ``condensed build --out root`` writes,
used without any network); else, with ``download=True``, the Hub (into ``root`` when given, else
the Hugging Face cache), verified against the registry's sha256. The set is decoded once, at load.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Callable, ClassVar

import torch
from torch import Tensor
from torchvision.datasets import VisionDataset

from .build import SET_FILENAME, dataset_slug, set_dir
from .condensed_set import CondensedSet
from .hub import check_name, download_set, list_sets as _registry_sets
from .sources import denormalize as _denormalize
from .storage import load

_SPEC = re.compile(r"^(?P<dataset>[^/]+)/(?P<method>[^/]+)/ipc(?P<ipc>\d+)$")


def _was_downloaded(folder: Path, method: str, ipc: int) -> bool:
    """Whether ``hf_hub_download(local_dir=folder)`` put this set there (it leaves a metadata file)."""
    return (folder / ".cache" / "huggingface" / "download" / method / f"ipc{ipc}" / f"{SET_FILENAME}.metadata").is_file()


class CondensedDataset(VisionDataset):
    """A condensed set as a ``torch.utils.data.Dataset`` of ``(image, label)``.

    Args:
        root: folder holding sets as ``root/<dataset>/<method>/ipc<N>/condensed.safetensors``; downloads
            land there too. ``None``: the Hugging Face cache.
        method: the condensation method (``condensed_datasets.recipes.list_methods()``).
        ipc: stored images per class (the storage budget).
        transform / target_transform: applied to each image tensor / label.
        download: fetch the set from the Hub when it is not available locally.
        repo_id / revision: override the registry's Hub repo and pinned revision.
        dataset: the source dataset (fixed by each subclass).

    Images are float tensors ``[C, H, W]`` in the source's normalised space (what the recipe
    optimised): do not add ``Normalize`` again; `denormalize` gives pixels for viewing. Labels are
    ints, or float vectors for sets with soft labels.
    """

    source: ClassVar[str | None] = None

    def __init__(self, root: str | os.PathLike | None = None, *, method: str, ipc: int, transform: Callable | None = None,
                 target_transform: Callable | None = None, download: bool = True, repo_id: str | None = None,
                 revision: str | None = None, dataset: str | None = None) -> None:
        super().__init__(root, transform=transform, target_transform=target_transform)
        dataset = dataset or self.source
        if dataset is None:
            raise ValueError("CondensedDataset needs dataset=...; or use a subclass such as CondensedCIFAR10")
        _check_method(method)
        if not isinstance(ipc, int) or ipc < 1:
            raise ValueError(f"ipc must be a positive int, got {ipc!r}")
        self.dataset, self.method, self.ipc, self.revision = check_name(dataset, "dataset"), method, ipc, revision
        self.path = self._locate(download, repo_id, revision)
        self._load(CondensedSet.load(self.path))

    @classmethod
    def from_file(cls, path: str | os.PathLike, transform: Callable | None = None,
                  target_transform: Callable | None = None) -> "CondensedDataset":
        """Wrap a condensed set file directly (no registry, no network)."""
        self = cls.__new__(cls)
        VisionDataset.__init__(self, None, transform=transform, target_transform=target_transform)
        self.path, self.revision = Path(path), None
        cset = load(path)
        self.dataset, self.method, self.ipc = cset.dataset, cset.method, cset.ipc
        self._load(cset)
        return self

    def _locate(self, download: bool, repo_id: str | None, revision: str | None) -> Path:
        folder = Path(self.root) / dataset_slug(self.dataset) if self.root is not None else None
        if folder is not None:
            local = set_dir(self.root, self.dataset, self.method, self.ipc) / SET_FILENAME
            if local.is_file() and not _was_downloaded(folder, self.method, self.ipc) and repo_id is None:
                return local
        if not download:
            where = folder if folder is not None else "the Hugging Face cache"
            raise RuntimeError(f"Condensed set {self.dataset}/{self.method}/ipc{self.ipc} not found in {where}. "
                               "You can use download=True to download it")
        return download_set(self.dataset, self.method, self.ipc, local_dir=folder, repo_id=repo_id, revision=revision)

    def _load(self, cset: CondensedSet) -> None:
        if self.source is not None and cset.dataset != self.source:
            raise ValueError(f"{self.path} holds a {cset.dataset} set, not {self.source}")
        self.condensed = cset
        with torch.no_grad():
            self.images, labels, self.soft_labels = cset.decode_all()
        self._labels = labels
        self.targets: list[int] = labels.tolist()

    # -- torchvision conventions ----------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        image = self.images[index]
        target: Any = self.soft_labels[index] if self.soft_labels is not None else self.targets[index]
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    @property
    def classes(self) -> list[str]:
        return self.condensed.classes

    @property
    def class_to_idx(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.classes)}

    @property
    def metadata(self) -> dict[str, Any]:
        """The set's metadata: dataset, classes, mean, std, method, ipc, recipe config, seed, evaluations."""
        return self.condensed.meta

    @property
    def mean(self) -> tuple[float, ...]:
        return self.condensed.mean

    @property
    def std(self) -> tuple[float, ...]:
        return self.condensed.std

    def denormalize(self, images: Tensor | None = None) -> Tensor:
        """Pixels in [0, 1] for viewing (clipped): of ``images``, or of the whole decoded set."""
        x = self.images if images is None else images
        batched = x if x.ndim == 4 else x.unsqueeze(0)
        out = _denormalize(batched, self.mean, self.std).clamp(0, 1)
        return out if x.ndim == 4 else out[0]

    def extra_repr(self) -> str:
        lines = [f"Dataset: {self.dataset}", f"Method: {self.method}", f"IPC (stored): {self.ipc}",
                 f"Decoder: {self.condensed.decoder.describe()}",
                 f"Samples per class: {len(self) // max(1, len(self.classes))}",
                 f"Normalization: mean={tuple(round(m, 4) for m in self.mean)}, std={tuple(round(s, 4) for s in self.std)}",
                 f"File: {self.path}"]
        if self.revision:
            lines.append(f"Revision: {self.revision}")
        return "\n".join(lines)

    def to_hf_dataset(self):
        """A ``datasets.Dataset`` with ``image`` (PNG of the de-normalised image) and ``label`` (ClassLabel).

        Lossy (8-bit, clipped): for browsing; train on this dataset's tensors.
        """
        from datasets import ClassLabel, Dataset, Features, Image

        pixels = (self.denormalize() * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
        arrays = [p[:, :, 0] if p.shape[2] == 1 else p for p in pixels]
        features = Features({"image": Image(), "label": ClassLabel(names=self.classes)})
        return Dataset.from_dict({"image": arrays, "label": self.targets}, features=features)


def _check_method(method: str) -> None:
    from .recipes import get_method

    get_method(method)  # an unknown method lists the valid ones


def _subclass(name: str, source: str, doc: str) -> type[CondensedDataset]:
    return type(name, (CondensedDataset,), {"source": source, "__doc__": f"{doc}\n\n{CondensedDataset.__doc__}"})


CondensedDigits = _subclass("CondensedDigits", "digits", "Condensed scikit-learn 8x8 digits.")
CondensedMNIST = _subclass("CondensedMNIST", "mnist", "Condensed MNIST (1 x 28 x 28, 10 classes).")
CondensedFashionMNIST = _subclass("CondensedFashionMNIST", "fashion-mnist", "Condensed Fashion-MNIST (1 x 28 x 28, 10 classes).")
CondensedSVHN = _subclass("CondensedSVHN", "svhn", "Condensed SVHN (3 x 32 x 32, 10 classes).")
CondensedCIFAR10 = _subclass("CondensedCIFAR10", "cifar10", "Condensed CIFAR-10 (3 x 32 x 32, 10 classes).")
CondensedCIFAR100 = _subclass("CondensedCIFAR100", "cifar100", "Condensed CIFAR-100 (3 x 32 x 32, 100 classes).")
CondensedTinyImageNet = _subclass("CondensedTinyImageNet", "tinyimagenet", "Condensed TinyImageNet (3 x 64 x 64, 200 classes).")

DATASET_CLASSES: dict[str, type[CondensedDataset]] = {
    cls.source: cls for cls in (CondensedDigits, CondensedMNIST, CondensedFashionMNIST, CondensedSVHN,
                                CondensedCIFAR10, CondensedCIFAR100, CondensedTinyImageNet)
}


def load_condensed(path_or_spec: str | os.PathLike, root: str | os.PathLike | None = None, **kwargs: Any) -> CondensedDataset:
    """Load any condensed set: a file path, or a ``dataset/method/ipcN`` spec (resolved like the classes)."""
    if Path(path_or_spec).is_file():
        return CondensedDataset.from_file(path_or_spec, **kwargs)
    match = _SPEC.match(str(path_or_spec))
    if not match:
        raise ValueError(f"{path_or_spec!r} is neither a file nor a spec like 'cifar10/idc/ipc10'")
    dataset = match["dataset"]
    cls = DATASET_CLASSES.get(dataset, CondensedDataset)
    extra = {} if dataset in DATASET_CLASSES else {"dataset": dataset}
    return cls(root, method=match["method"], ipc=int(match["ipc"]), **extra, **kwargs)


def list_sets(dataset: str | None = None) -> list[str]:
    """``dataset/method/ipcN`` specs of every set the registry knows (optionally of one dataset)."""
    return sorted(entry.spec for entry in _registry_sets(dataset))


__all__ = ["CondensedDataset", *(cls.__name__ for cls in DATASET_CLASSES.values()), "load_condensed", "list_sets"]
