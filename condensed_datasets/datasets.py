"""torchvision-style datasets over condensed sets: ``CondensedCIFAR10(method="idc", ipc=10)``.

Where the file comes from, in order: a set built locally under
``root/<dataset>/<method>/ipc<N>/condensed.safetensors`` (what ``condensed build --out root`` writes,
used without any network); else a copy downloaded earlier (under ``root``, or the Hugging Face cache
when ``root`` is ``None``), used without any request when its revision is a pinned commit or when
``download=False``; else, with ``download=True``, the Hub, verified against the registry's sha256
(or the sha256 the Hub records). The set is decoded once, at load. This module imports nothing of
the build or the recipes.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Callable, ClassVar

import torch
from torch import Tensor
from torch.nn import functional as F
from torch.utils.data import ConcatDataset, Dataset
from torchvision.datasets import VisionDataset
from torchvision.transforms import v2

from condensed_datasets.core.condensed_set import CondensedSet
from condensed_datasets.core.condensed_set import denormalize as _denormalize
from condensed_datasets.core.errors import SetUnavailableError
from condensed_datasets.core.layout import (
    check_name,
    dataset_slug,
    path_in_repo,
    set_path,
)
from condensed_datasets.core.methods import check_method
from condensed_datasets.core.storage import load
from condensed_datasets.core.validation import validate_condensed_set
from condensed_datasets.hub.download import (
    download_set,
    is_downloaded_copy,
    resolved_commit,
)
from condensed_datasets.hub.pins import list_sets as _registry_sets

_SPEC = re.compile(r"^(?P<dataset>[^/]+)/(?P<method>[^/]+)/ipc(?P<ipc>\d+)$")
TARGET_TYPES = ("auto", "class", "soft")


class CondensedDataset(VisionDataset):
    """A condensed set as a ``torch.utils.data.Dataset`` of ``(image, target)``.

    Args:
        root: folder holding sets as ``root/<dataset>/<method>/ipc<N>/condensed.safetensors``; downloads
            land there too. ``None``: the Hugging Face cache.
        method: the condensation method (``condensed_datasets.core.methods.METHOD_NAMES``).
        ipc: stored images per class (the storage budget).
        transform / target_transform: applied to each image tensor / target.
        download: fetch the set from the Hub when no copy is stored locally. With ``False`` a set
            built or downloaded earlier loads without any network request.
        repo_id / revision: override the registry's Hub repo and pinned revision.
        normalize: ``True`` (default): images exactly as optimised, in the source's normalised
            space ``(x - mean) / std`` (do not add ``Normalize``). ``False``: pixels in [0, 1] (clipped),
            like torchvision's ``ToTensor``, for colour transforms (``ColorJitter``, ``RandAugment``,
            ``RandomInvert``, ...); end the pipeline with `normalize_transform`.
        target_type: ``"auto"`` (class ids, or probability vectors for sets stored with soft labels),
            ``"class"`` (always the class id, an int) or ``"soft"`` (always a float vector over the
            classes: the stored soft labels, or one-hot class ids).
        dataset: the source dataset (fixed by each subclass).

    ``targets`` always holds the class id of every item (the class each image was condensed for),
    whatever ``target_type``, as torchvision's ``targets`` do; `soft_targets` holds the vectors.
    ``commit`` is the Hub commit a downloaded set came from (``None`` for a local build).
    """

    source: ClassVar[str | None] = None

    def __init__(self, root: str | os.PathLike | None = None, *, method: str, ipc: int, transform: Callable | None = None,
                 target_transform: Callable | None = None, download: bool = True, repo_id: str | None = None,
                 revision: str | None = None, normalize: bool = True, target_type: str = "auto",
                 dataset: str | None = None) -> None:
        super().__init__(root, transform=transform, target_transform=target_transform)
        dataset = dataset or self.source
        if dataset is None:
            raise ValueError("CondensedDataset needs dataset=...; or use a subclass such as CondensedCIFAR10")
        check_method(method)
        if not isinstance(ipc, int) or isinstance(ipc, bool) or ipc < 1:
            raise ValueError(f"ipc must be a positive int, got {ipc!r}")
        self._check_options(normalize, target_type)
        self.dataset, self.method, self.ipc, self.revision = check_name(dataset, "dataset"), method, ipc, revision
        folder = Path(self.root) / dataset_slug(dataset) if self.root is not None else None  # None: the HF cache
        self.path = self._locate(folder, download, repo_id, revision)
        self.commit = resolved_commit(self.path, folder)
        self._load(CondensedSet.load(self.path))

    @classmethod
    def from_file(cls, path: str | os.PathLike, transform: Callable | None = None,
                  target_transform: Callable | None = None, normalize: bool = True,
                  target_type: str = "auto") -> "CondensedDataset":
        """Wrap a condensed set file directly (no registry, no network)."""
        self = cls.__new__(cls)
        VisionDataset.__init__(self, None, transform=transform, target_transform=target_transform)
        self._check_options(normalize, target_type)
        self.path, self.revision, self.commit = Path(path), None, None
        cset = load(path)
        self.dataset, self.method, self.ipc = cset.dataset, cset.method, cset.ipc
        self._load(cset)
        return self

    def _check_options(self, normalize: bool, target_type: str) -> None:
        if not isinstance(normalize, bool):
            raise ValueError(f"normalize must be True or False, got {normalize!r}")
        if target_type not in TARGET_TYPES:
            raise ValueError(f"target_type must be one of {', '.join(TARGET_TYPES)}, got {target_type!r}")
        self.normalize, self.target_type = normalize, target_type

    def _locate(self, folder: Path | None, download: bool, repo_id: str | None, revision: str | None) -> Path:
        if folder is not None and repo_id is None:
            local = set_path(self.root, self.dataset, self.method, self.ipc)
            if local.is_file() and not is_downloaded_copy(folder, path_in_repo(self.method, self.ipc)):
                return local  # built here by `condensed build`
        try:
            return download_set(self.dataset, self.method, self.ipc, local_dir=folder, repo_id=repo_id,
                                revision=revision, local_only=not download)
        except SetUnavailableError as err:
            if download:
                raise
            where = folder if folder is not None else "the Hugging Face cache"
            raise RuntimeError(f"Condensed set {self.dataset}/{self.method}/ipc{self.ipc} not found in {where}. "
                               f"You can use download=True to download it ({err})") from None

    def _load(self, cset: CondensedSet) -> None:
        if self.source is not None and cset.dataset != self.source:
            raise ValueError(f"{self.path} holds a {cset.dataset} set, not {self.source}")
        validate_condensed_set(cset, str(self.path))  # every claim checked before anything is decoded
        self.condensed = cset
        with torch.no_grad():
            images, labels, soft = cset.decode_all()
        self.images = images if self.normalize else _denormalize(images, cset.mean, cset.std).clamp_(0, 1)
        self._labels = labels
        self.targets: list[int] = labels.tolist()
        self.soft_labels = soft
        self._one_hot: Tensor | None = None
        self._soft_items = self.target_type == "soft" or (self.target_type == "auto" and soft is not None)

    @property
    def soft_targets(self) -> Tensor:
        """Float ``[n, num_classes]``: the stored soft labels, or one-hot class ids for a hard-label set."""
        if self.soft_labels is not None:
            return self.soft_labels
        if self._one_hot is None:
            self._one_hot = F.one_hot(self._labels, len(self.classes)).float()
        return self._one_hot

    def _soft_target(self, index: int) -> Tensor:
        """One item's probability vector; a hard-label set's one-hot row is made per item (never all rows at once:
        a set with 10 000 classes would otherwise allocate n x 10 000 floats at its first item)."""
        if self.soft_labels is not None:
            return self.soft_labels[index]
        return F.one_hot(self._labels[index], len(self.classes)).float()

    @property
    def normalize_transform(self) -> v2.Normalize:
        """``v2.Normalize(mean, std)`` of the source: the last step of a pipeline over ``normalize=False`` items."""
        return v2.Normalize(list(self.mean), list(self.std))

    @property
    def denormalize_transform(self) -> v2.Compose:
        """Normalised image -> pixels in [0, 1] (clipped): wrap colour transforms over ``normalize=True`` items as
        ``v2.Compose([ds.denormalize_transform, v2.ColorJitter(...), ds.normalize_transform])``."""
        return v2.Compose([v2.Normalize([-m / s for m, s in zip(self.mean, self.std)], [1 / s for s in self.std]),
                           ClampToUnit()])

    def __add__(self, other: Dataset) -> ConcatDataset:
        """``a + b`` concatenates; refused when one set yields class ids and the other vectors (no collate error later)."""
        if isinstance(other, CondensedDataset) and other._soft_items != self._soft_items:
            kinds = {True: "soft targets (float vectors)", False: "class-id targets (ints)"}
            raise ValueError(f"cannot concatenate {self.dataset}/{self.method}/ipc{self.ipc} ({kinds[self._soft_items]}) "
                             f"with {other.dataset}/{other.method}/ipc{other.ipc} ({kinds[other._soft_items]}): a batch "
                             "could not be collated. Load both with target_type='soft' (or both with 'class')")
        if isinstance(other, CondensedDataset) and other.normalize != self.normalize:
            raise ValueError("cannot concatenate a normalize=True set with a normalize=False one: their pixels are in different spaces")
        return ConcatDataset([self, other])

    # -- torchvision conventions ----------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        image = self.images[index]
        target: Any = self._soft_target(index) if self._soft_items else self.targets[index]
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
        """Pixels in [0, 1] for viewing (clipped): of normalised ``images``, or of the whole decoded set."""
        if images is None and not self.normalize:
            return self.images
        x = self.images if images is None else images
        batched = x if x.ndim == 4 else x.unsqueeze(0)
        out = _denormalize(batched, self.mean, self.std).clamp(0, 1)
        return out if x.ndim == 4 else out[0]

    def extra_repr(self) -> str:
        lines = [f"Dataset: {self.dataset}", f"Method: {self.method}", f"IPC (stored): {self.ipc}",
                 f"Decoder: {self.condensed.decoder.describe()}",
                 f"Samples per class: {len(self) // max(1, len(self.classes))}",
                 f"Pixel space: {'normalised' if self.normalize else '[0, 1] (normalize=False)'}",
                 f"Normalization: mean={tuple(round(m, 4) for m in self.mean)}, std={tuple(round(s, 4) for s in self.std)}",
                 f"File: {self.path}"]
        if self.revision:
            lines.append(f"Revision: {self.revision}")
        if self.commit:
            lines.append(f"Hub commit: {self.commit}")
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


class ClampToUnit:
    """Clip an image tensor to [0, 1] (the pixel range colour transforms expect); picklable for DataLoader workers."""

    def __call__(self, image: Tensor) -> Tensor:
        return image.clamp(0, 1)

    def __repr__(self) -> str:
        return "ClampToUnit()"


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
