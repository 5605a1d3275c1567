"""Real datasets as normalised tensors: the input of every recipe and the test split of every evaluation.

Each source is registered by name in `SOURCES`; `load_source(name, data_root)` returns a `RealData`.
``imagefolder:PATH`` loads any ``PATH/{train,test}/<class>/*`` tree.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import Tensor

from condensed_datasets.core.condensed_set import normalize
from condensed_datasets.core.errors import DataNotFoundError, UnknownNameError
from condensed_datasets.core.registry import Registry
from condensed_datasets.core.storage import tensor_bytes
from condensed_datasets.core.validation import check_split_classes

FULL_DSA = "color_crop_cutout_flip_scale_rotate"
NO_FLIP_DSA = "color_crop_cutout_scale_rotate"  # flipping hurts digits (DSA README)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".gif", ".tif", ".tiff", ".webp")


@dataclass
class RawSplits:
    """What a source loader returns: pixel tensors in [0, 1] (uint8 or float) and labels."""

    train_images: Tensor
    train_labels: Tensor
    test_images: Tensor
    test_labels: Tensor
    classes: list[str]


@dataclass(frozen=True)
class SourceSpec:
    """Facts about one real dataset and the function that reads it from disk."""

    name: str
    load: Callable[[Path, bool], RawSplits]
    mean: tuple[float, ...] | None  # None: computed from the training split
    std: tuple[float, ...] | None
    how_to_get: str
    dsa_strategy: str = FULL_DSA
    license: str = "unknown"
    hub_id: str | None = None  # the source dataset's id on the Hugging Face Hub, for cards
    citation: str = ""
    license_name: str | None = None  # with license "other": an id for the terms and where to read them,
    license_link: str | None = None  # as the Hub's dataset-card spec asks

    def __post_init__(self) -> None:
        if self.license == "other" and not (self.license_name and self.license_link):
            raise ValueError(f"source {self.name!r} has license 'other': give license_name and license_link (Hub card spec)")


SOURCES: Registry[SourceSpec] = Registry("dataset")


@dataclass
class RealData:
    """A real dataset in the normalised space the recipes optimise in: ``(x / 255 - mean) / std``."""

    name: str
    classes: list[str]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    train_images: Tensor
    train_labels: Tensor
    test_images: Tensor
    test_labels: Tensor
    dsa_strategy: str = FULL_DSA
    spec: SourceSpec | None = field(default=None, repr=False)
    # Which copy of the dataset this is (`splits_sha256` of the files' pixels and labels); None where not known.
    source_sha256: str | None = None

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def channels(self) -> int:
        return int(self.train_images.shape[1])

    @property
    def image_size(self) -> tuple[int, int]:
        return int(self.train_images.shape[2]), int(self.train_images.shape[3])

    @cached_property
    def class_indices(self) -> list[Tensor]:
        """Per class, the indices of its training images (for class-balanced sampling)."""
        return [torch.nonzero(self.train_labels == c).flatten() for c in range(self.num_classes)]

    def source_record(self) -> dict[str, str]:
        """``{"source_sha256": ...}``: which copy of the dataset a checkpoint, set or evaluation used; empty where not known."""
        return {} if self.source_sha256 is None else {"source_sha256": self.source_sha256}

    @property
    def min_class_count(self) -> int:
        return min(len(idx) for idx in self.class_indices)

    def to(self, device: torch.device | str) -> "RealData":
        """A copy whose tensors live on ``device`` (moved once, reused by every step)."""
        moved = {k: getattr(self, k).to(device) for k in ("train_images", "train_labels", "test_images", "test_labels")}
        return RealData(self.name, self.classes, self.mean, self.std, **moved, dsa_strategy=self.dsa_strategy, spec=self.spec,
                        source_sha256=self.source_sha256)

    def subset(self, per_class: int, seed: int = 0) -> "RealData":
        """A class-balanced random subset of the training split (for quick runs and tests)."""
        g = torch.Generator().manual_seed(seed)
        keep = torch.cat([idx[torch.randperm(len(idx), generator=g)[:per_class]] for idx in self.class_indices])
        digest = None if self.source_sha256 is None else \
            hashlib.sha256(f"{self.source_sha256} subset per_class={per_class} seed={seed}".encode()).hexdigest()
        return RealData(self.name, self.classes, self.mean, self.std, self.train_images[keep], self.train_labels[keep],
                        self.test_images, self.test_labels, self.dsa_strategy, self.spec, digest)


def default_data_root() -> Path:
    """``$CONDENSED_DATA_ROOT``, else ``$XDG_CACHE_HOME/condensed-datasets/data`` (``~/.cache/...``)."""
    if os.environ.get("CONDENSED_DATA_ROOT"):
        return Path(os.environ["CONDENSED_DATA_ROOT"]).expanduser()
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return cache / "condensed-datasets" / "data"


def resolve_data_root(data_root: str | os.PathLike | None) -> Path:
    """The data root: the argument, else the environment variable, else the cache folder."""
    return Path(data_root).expanduser() if data_root else default_data_root()


def get_source(name: str) -> SourceSpec:
    """The spec of a registered dataset, or of ``imagefolder:PATH``."""
    if name.startswith("imagefolder:"):
        path = Path(name.split(":", 1)[1]).expanduser()
        return SourceSpec(
            name=name, load=lambda _root, _dl: _read_split_tree(path), mean=None, std=None,
            how_to_get=f"arrange your images as {path}/train/<class>/* and {path}/test/<class>/*",
        )
    try:
        return SOURCES.get(name)
    except UnknownNameError as err:
        raise UnknownNameError(f"{err} (or imagefolder:PATH)") from None


def list_sources() -> list[str]:
    """Names of the registered real datasets."""
    return SOURCES.names()


@dataclass(frozen=True)
class DataSource:
    """Where a real dataset is read from: ``root`` (see `resolve_data_root`) and whether torchvision may download it."""

    root: str | os.PathLike | None = None
    download: bool = False

    def load(self, name: str) -> "RealData":
        return load_source(name, self.root, self.download)


def load_source(name: str, data_root: str | os.PathLike | None = None, download: bool = False) -> RealData:
    """Load a real dataset as normalised float tensors.

    Args:
        name: a registered dataset (``list_sources()``) or ``imagefolder:PATH``.
        data_root: where the raw files live (see `resolve_data_root`).
        download: let torchvision fetch the files where it can.
    """
    spec = get_source(name)
    raw = spec.load(resolve_data_root(data_root), download)
    train = _to_unit_float(raw.train_images)
    test = _to_unit_float(raw.test_images)
    mean = spec.mean or tuple(train.mean(dim=(0, 2, 3)).tolist())
    std = spec.std or tuple(train.std(dim=(0, 2, 3)).tolist())
    return RealData(
        name=name, classes=list(raw.classes), mean=tuple(mean), std=tuple(std),
        train_images=normalize(train, mean, std), train_labels=raw.train_labels.long(),
        test_images=normalize(test, mean, std), test_labels=raw.test_labels.long(),
        dsa_strategy=spec.dsa_strategy, spec=spec, source_sha256=splits_sha256(raw),
    )


def splits_sha256(raw: RawSplits) -> str:
    """sha256 of a dataset copy as read: its class names, then each split's pixels and labels (dtype, shape, bytes).

    Two copies of a dataset that differ in one pixel differ here: CIFAR-10 from torchvision's files and from a
    JPEG-recompressed image folder are different sources, and a checkpoint refuses to resume on the other one."""
    digest = hashlib.sha256(json.dumps(raw.classes).encode())
    for name in ("train_images", "train_labels", "test_images", "test_labels"):
        t = getattr(raw, name)
        t = t.long() if name.endswith("labels") else t  # a loader's integer type is not part of the data
        digest.update(f"{name} {t.dtype} {list(t.shape)}\n".encode())
        digest.update(tensor_bytes(t))
    return digest.hexdigest()


def _to_unit_float(x: Tensor) -> Tensor:
    return x.float() / 255.0 if x.dtype == torch.uint8 else x.float()


def _not_found(spec_name: str, where: Path, how: str) -> DataNotFoundError:
    return DataNotFoundError(f"{spec_name}: dataset not found in {where}. {how}")


# --- readers -------------------------------------------------------------------------------


def _read_image_files(files: list[Path]) -> Tensor:
    """Decode image files into one uint8 ``[n, C, H, W]`` tensor (all must share one size)."""
    from PIL import Image

    def read(f: Path) -> Tensor:
        try:
            with Image.open(f) as im:
                array = np.array(im.convert("RGB") if im.mode not in ("L", "RGB") else im)
        except (OSError, SyntaxError, ValueError) as err:  # PIL's UnidentifiedImageError is an OSError
            raise ValueError(f"{f} is not a readable image ({err}); remove it or fix it") from None
        return torch.from_numpy(array[None] if array.ndim == 2 else np.ascontiguousarray(array.transpose(2, 0, 1)))

    images = [read(f) for f in files]
    shapes = {tuple(im.shape) for im in images}
    if len(shapes) != 1:
        raise ValueError(f"images must all have one size and channel count, found {sorted(shapes)[:4]}")
    return torch.stack(images)


def _read_class_folders(folder: Path, classes: list[str] | None = None) -> tuple[Tensor, Tensor, list[str]]:
    """``folder/<class>/*.<img>`` -> (uint8 images, labels, classes); classes sort alphabetically."""
    classes = classes or _class_folders(folder)
    files, labels = [], []
    for label, name in enumerate(classes):
        found = sorted(f for f in (folder / name).rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES)
        files += found
        labels += [label] * len(found)
    if not files:
        raise DataNotFoundError(f"no images under {folder}/<class>/")
    return _read_image_files(files), torch.tensor(labels), classes


DECODED_CACHE = ".decoded.safetensors"  # beside train/ and test/: the decoded tree, read back in a second
_SPLIT_TENSORS = ("train_images", "train_labels", "test_images", "test_labels")


def _tree_fingerprint(folders: list[Path]) -> str:
    """Which image files the tree holds, by path, size and modification time: any change makes a new one."""
    digest = hashlib.sha256()
    for folder in folders:
        for where, dirs, names in sorted(os.walk(folder)):
            dirs.sort()
            for name in sorted(names):
                if os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES:
                    stat = os.stat(os.path.join(where, name))
                    digest.update(f"{os.path.relpath(where, folder.parent)}/{name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _read_decoded_cache(path: Path, fingerprint: str) -> RawSplits | None:
    """The cached splits when ``path`` was written for exactly this tree, else None (never an error)."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            meta = f.metadata() or {}
            if meta.get("fingerprint") != fingerprint:
                return None
            tensors = {k: f.get_tensor(k) for k in _SPLIT_TENSORS}
        return RawSplits(**tensors, classes=json.loads(meta["classes"]))
    except Exception:  # absent, unreadable or damaged: decode the images again (the cache is only a shortcut)
        return None


def _write_decoded_cache(path: Path, splits: RawSplits, fingerprint: str) -> None:
    """Write the cache atomically; a read-only data root just goes without one."""
    from safetensors.torch import save_file

    from condensed_datasets.core.files import atomic_path

    try:
        with atomic_path(path) as tmp:
            save_file({k: getattr(splits, k).contiguous() for k in _SPLIT_TENSORS}, str(tmp),
                      metadata={"fingerprint": fingerprint, "classes": json.dumps(splits.classes)})
    except OSError:
        pass


def _class_folders(split: Path) -> list[str]:
    return sorted(d.name for d in split.iterdir() if d.is_dir() and not d.name.startswith("."))


def _read_split_tree(root: Path) -> RawSplits:
    """``root/train/<class>/*`` and ``root/test/<class>/*`` (``val`` accepted for ``test``).

    Decoding tens of thousands of images takes seconds each time: the decoded tensors are kept in
    ``root/.decoded.safetensors`` with a fingerprint of the files, and read from there while the tree is unchanged."""
    test_dir = root / "test" if (root / "test").is_dir() else root / "val"
    if not (root / "train").is_dir() or not test_dir.is_dir():
        raise DataNotFoundError(f"expected {root}/train/<class>/ and {root}/test/<class>/ image folders")
    fingerprint = _tree_fingerprint([root / "train", test_dir])
    cached = _read_decoded_cache(root / DECODED_CACHE, fingerprint)
    if cached is not None:
        return cached
    check_split_classes(_class_folders(root / "train"), _class_folders(test_dir), str(root))
    train_x, train_y, classes = _read_class_folders(root / "train")
    test_x, test_y, _ = _read_class_folders(test_dir, classes)
    splits = RawSplits(train_x, train_y, test_x, test_y, classes)
    _write_decoded_cache(root / DECODED_CACHE, splits, fingerprint)
    return splits


def _torchvision_splits(cls_name: str, name: str, how: str, split_kw: Callable[[bool], dict]) -> Callable[[Path, bool], RawSplits]:
    """A loader over a torchvision dataset class whose ``.data`` holds the pixels."""

    def load(root: Path, download: bool) -> RawSplits:
        import torchvision.datasets as tvd

        cls = getattr(tvd, cls_name)
        try:
            train, test = (cls(str(root), **split_kw(is_train), download=download) for is_train in (True, False))
        except RuntimeError as err:
            raise _not_found(name, root, how) from err
        return RawSplits(*_tv_tensors(train), *_tv_tensors(test), classes=_tv_classes(train))

    return load


def _tv_tensors(ds) -> tuple[Tensor, Tensor]:
    data = torch.as_tensor(np.asarray(ds.data))
    if data.ndim == 3:  # MNIST family: [n, H, W]
        data = data.unsqueeze(1)
    elif data.shape[-1] in (1, 3):  # CIFAR: NHWC
        data = data.permute(0, 3, 1, 2)
    labels = getattr(ds, "targets", None)
    if labels is None:
        labels = ds.labels  # SVHN
    return data.contiguous(), torch.as_tensor(np.asarray(labels)).long()


def _tv_classes(ds) -> list[str]:
    return list(getattr(ds, "classes", None) or [str(i) for i in range(10)])


def _load_cifar10(root: Path, download: bool) -> RawSplits:
    folder = root / "cifar10"
    if (folder / "train").is_dir():
        return _read_split_tree(folder)
    return _torchvision_splits("CIFAR10", "cifar10", _CIFAR10_HOW, lambda t: {"train": t})(root, download)


def _load_tinyimagenet(root: Path, download: bool) -> RawSplits:
    base = root / "tiny-imagenet-200"
    if not (base / "wnids.txt").is_file():
        raise _not_found("tinyimagenet", base, "Download http://cs231n.stanford.edu/tiny-imagenet-200.zip and unzip it into the data root.")
    wnids = sorted((base / "wnids.txt").read_text().split())
    train_x, train_y, _ = _read_class_folders(base / "train", wnids)
    annotations = [line.split("\t")[:2] for line in (base / "val" / "val_annotations.txt").read_text().splitlines() if line.strip()]
    index = {w: i for i, w in enumerate(wnids)}
    files = [base / "val" / "images" / fname for fname, _ in annotations]
    val_y = torch.tensor([index[w] for _, w in annotations])
    return RawSplits(train_x, train_y, _read_image_files(files), val_y, wnids)


def _load_digits(_root: Path, _download: bool) -> RawSplits:
    """scikit-learn's bundled 8x8 digits with a fixed, stratified 25 % held-out test split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.tensor(digits.target)
    tr, te = train_test_split(np.arange(len(y)), test_size=0.25, stratify=digits.target, random_state=0)
    return RawSplits(x[tr], y[tr], x[te], y[te], [str(i) for i in range(10)])


_TV_HOW = "Pass --download (torchvision fetches it) or place torchvision's files there; set --data-root or CONDENSED_DATA_ROOT."
_CIFAR10_HOW = (
    "Pass --download (torchvision fetches it), place torchvision's cifar-10-batches-py there, or an image-folder "
    "layout ROOT/cifar10/{train,test}/<class>/; set --data-root or CONDENSED_DATA_ROOT."
)
_MNIST_BIB = "@article{lecun1998gradient, title={Gradient-based learning applied to document recognition}, author={LeCun, Yann and Bottou, L{\\'e}on and Bengio, Yoshua and Haffner, Patrick}, journal={Proceedings of the IEEE}, year={1998}}"
_CIFAR_TERMS = {"license_name": "cifar-terms", "license_link": "https://www.cs.toronto.edu/~kriz/cifar.html"}
_CIFAR_BIB = "@techreport{krizhevsky2009learning, title={Learning multiple layers of features from tiny images}, author={Krizhevsky, Alex}, institution={University of Toronto}, year={2009}}"

SOURCES.register("digits", SourceSpec(
    "digits", _load_digits, None, None, "It ships with scikit-learn.", NO_FLIP_DSA, license="bsd-3-clause",
    citation="@misc{alpaydin1998optical, title={Optical Recognition of Handwritten Digits}, author={Alpaydin, E. and Kaynak, C.}, howpublished={UCI Machine Learning Repository}, year={1998}}",
))
SOURCES.register("mnist", SourceSpec(
    "mnist", _torchvision_splits("MNIST", "mnist", _TV_HOW, lambda t: {"train": t}), (0.1307,), (0.3081,), _TV_HOW,
    NO_FLIP_DSA, license="cc-by-sa-3.0", hub_id="ylecun/mnist", citation=_MNIST_BIB,
))
SOURCES.register("fashion-mnist", SourceSpec(
    "fashion-mnist", _torchvision_splits("FashionMNIST", "fashion-mnist", _TV_HOW, lambda t: {"train": t}), (0.2861,), (0.3530,),
    _TV_HOW, license="mit", hub_id="zalando-datasets/fashion_mnist",
    citation="@article{xiao2017fashion, title={Fashion-MNIST: a novel image dataset for benchmarking machine learning algorithms}, author={Xiao, Han and Rasul, Kashif and Vollgraf, Roland}, journal={arXiv preprint arXiv:1708.07747}, year={2017}}",
))
SOURCES.register("svhn", SourceSpec(
    "svhn", _torchvision_splits("SVHN", "svhn", _TV_HOW, lambda t: {"split": "train" if t else "test"}),
    (0.4377, 0.4438, 0.4728), (0.1980, 0.2010, 0.1970), _TV_HOW, NO_FLIP_DSA, license="other", hub_id="ufldl-stanford/svhn",
    license_name="svhn-non-commercial", license_link="http://ufldl.stanford.edu/housenumbers/",
    citation="@inproceedings{netzer2011reading, title={Reading Digits in Natural Images with Unsupervised Feature Learning}, author={Netzer, Yuval and Wang, Tao and Coates, Adam and Bissacco, Alessandro and Wu, Bo and Ng, Andrew Y.}, booktitle={NIPS Workshop on Deep Learning and Unsupervised Feature Learning}, year={2011}}",
))
SOURCES.register("cifar10", SourceSpec(
    "cifar10", _load_cifar10, (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010), _CIFAR10_HOW,
    license="other", hub_id="uoft-cs/cifar10", citation=_CIFAR_BIB, **_CIFAR_TERMS,
))
SOURCES.register("cifar100", SourceSpec(
    "cifar100", _torchvision_splits("CIFAR100", "cifar100", _TV_HOW, lambda t: {"train": t}),
    (0.5071, 0.4866, 0.4409), (0.2673, 0.2564, 0.2762), _TV_HOW, license="other", hub_id="uoft-cs/cifar100", citation=_CIFAR_BIB,
    **_CIFAR_TERMS,
))
SOURCES.register("tinyimagenet", SourceSpec(
    "tinyimagenet", _load_tinyimagenet, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225),
    "Download tiny-imagenet-200.zip and unzip it into the data root.", license="other", hub_id="zh-plus/tiny-imagenet",
    license_name="imagenet-terms-of-access", license_link="https://image-net.org/download.php",
    citation="@article{le2015tiny, title={Tiny ImageNet Visual Recognition Challenge}, author={Le, Ya and Yang, Xuan}, journal={CS 231N}, year={2015}}",
))
