"""Every real-data source on tiny real files in tmp_path, in the real on-disk layouts."""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from condensed_datasets.core.condensed_set import denormalize
from condensed_datasets.core.errors import DataNotFoundError, UnknownNameError
from condensed_datasets.training.sources import (
    list_sources,
    load_source,
    resolve_data_root,
)

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def _png_tree(root: Path, classes: list[str], per_class: int, size: int, mode: str = "RGB", ext: str = ".png") -> None:
    rng = np.random.default_rng(0)
    for c in classes:
        (root / c).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            shape = (size, size, 3) if mode == "RGB" else (size, size)
            Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(root / c / f"{i:04d}{ext}")


def test_digits_is_normalised_with_a_fixed_split(digits):
    again = load_source("digits")
    assert digits.train_images.shape[1:] == (1, 8, 8) and digits.num_classes == 10
    assert len(digits.train_labels) + len(digits.test_labels) == 1797
    assert torch.equal(digits.test_images, again.test_images)  # the held-out split never moves
    assert abs(float(digits.train_images.mean())) < 1e-4 and abs(float(digits.train_images.std()) - 1) < 1e-2
    assert sum(len(i) for i in digits.class_indices) == len(digits.train_labels)
    assert all(bool((digits.train_labels[idx] == c).all()) for c, idx in enumerate(digits.class_indices))
    pixels = denormalize(digits.train_images, digits.mean, digits.std)
    assert float(pixels.min()) >= -1e-5 and float(pixels.max()) <= 1 + 1e-5


def test_cifar10_image_folder_layout(tmp_path):
    classes = ["airplane", "automobile", "bird"]
    for split in ("train", "test"):
        _png_tree(tmp_path / "cifar10" / split, classes, 2, 32, ext=".jpg")
    real = load_source("cifar10", tmp_path)
    assert real.classes == classes
    assert real.train_images.shape == (6, 3, 32, 32) and real.test_images.shape == (6, 3, 32, 32)
    assert real.train_labels.tolist() == [0, 0, 1, 1, 2, 2]
    assert real.mean == (0.4914, 0.4822, 0.4465)


def test_a_source_names_its_copy_of_the_data_down_to_one_pixel(tmp_path):
    for split in ("train", "test"):
        _png_tree(tmp_path / "cifar10" / split, ["airplane", "automobile"], 2, 32)
    first = load_source("cifar10", tmp_path)
    assert load_source("cifar10", tmp_path).source_sha256 == first.source_sha256  # read again (from the cache): the same
    assert first.to("cpu").source_sha256 == first.source_sha256
    assert len({first.subset(1, seed=0).source_sha256, first.subset(1, seed=1).source_sha256, first.source_sha256}) == 3
    image = tmp_path / "cifar10" / "test" / "automobile" / "0001.png"
    pixels = np.array(Image.open(image))
    pixels[0, 0, 0] ^= 1  # one pixel of one test image, off by one grey level
    Image.fromarray(pixels).save(image)
    changed = load_source("cifar10", tmp_path)
    assert changed.source_sha256 != first.source_sha256
    assert torch.equal(changed.train_images, first.train_images)  # the training split alone is the same


def test_imagefolder_source_computes_its_own_statistics(tmp_path):
    _png_tree(tmp_path / "pets" / "train", ["cat", "dog"], 3, 16, mode="L")
    _png_tree(tmp_path / "pets" / "val", ["cat", "dog"], 1, 16, mode="L")
    real = load_source(f"imagefolder:{tmp_path / 'pets'}")
    assert real.channels == 1 and real.image_size == (16, 16) and real.classes == ["cat", "dog"]
    assert torch.allclose(real.train_images.mean(dim=(0, 2, 3)), torch.zeros(1), atol=1e-5)


def _write_idx(path: Path, array: np.ndarray) -> None:
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + b"".join(struct.pack(">I", d) for d in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


@pytest.mark.parametrize("name,folder", [("mnist", "MNIST"), ("fashion-mnist", "FashionMNIST")])
def test_mnist_family_raw_layout(tmp_path, name, folder):
    raw = tmp_path / folder / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(1)
    for prefix, n in (("train", 20), ("t10k", 10)):
        _write_idx(raw / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        _write_idx(raw / f"{prefix}-labels-idx1-ubyte", np.arange(n) % 10)
    real = load_source(name, tmp_path)
    assert real.train_images.shape == (20, 1, 28, 28) and real.test_images.shape == (10, 1, 28, 28)
    assert real.train_labels.tolist() == [i % 10 for i in range(20)]
    assert len(real.classes) == 10


def _skip_md5(monkeypatch, cls_name: str) -> None:
    # torchvision pins the md5 of the official archives; the tiny files written here cannot match.
    import importlib

    import torchvision.datasets as tvd

    cls = getattr(tvd, cls_name)
    monkeypatch.setattr(cls, "_check_integrity", lambda self: True)
    monkeypatch.setattr(importlib.import_module(cls.__module__), "check_integrity", lambda *a, **k: True)


@pytest.mark.parametrize("name,cls_name,folder,meta_key,label_key,n_classes", [
    ("cifar10", "CIFAR10", "cifar-10-batches-py", "label_names", "labels", 10),
    ("cifar100", "CIFAR100", "cifar-100-python", "fine_label_names", "fine_labels", 100),
])
def test_cifar_pickle_layout(tmp_path, monkeypatch, name, cls_name, folder, meta_key, label_key, n_classes):
    import torchvision.datasets as tvd

    _skip_md5(monkeypatch, cls_name)
    cls = getattr(tvd, cls_name)
    base = tmp_path / folder
    base.mkdir()
    rng = np.random.default_rng(2)
    for fname, _ in cls.train_list + cls.test_list:
        batch = {"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8), label_key: [0, 1, 2, 3]}
        (base / fname).write_bytes(pickle.dumps(batch))
    (base / cls.meta["filename"]).write_bytes(pickle.dumps({meta_key: [f"c{i}" for i in range(n_classes)]}))
    real = load_source(name, tmp_path)
    assert real.train_images.shape == (4 * len(cls.train_list), 3, 32, 32)
    assert real.num_classes == n_classes and real.test_labels.tolist() == [0, 1, 2, 3]


def test_svhn_mat_layout(tmp_path, monkeypatch):
    from scipy.io import savemat

    _skip_md5(monkeypatch, "SVHN")
    rng = np.random.default_rng(3)
    for split, n in (("train", 6), ("test", 3)):
        savemat(tmp_path / f"{split}_32x32.mat", {"X": rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8),
                                                    "y": (np.arange(n) % 10 + 1).reshape(n, 1)})  # SVHN labels digit 0 as 10
    real = load_source("svhn", tmp_path)
    assert real.train_images.shape == (6, 3, 32, 32) and real.test_images.shape == (3, 3, 32, 32)
    assert real.train_labels.tolist() == [1, 2, 3, 4, 5, 6]


def test_tinyimagenet_official_layout_reads_val_annotations(tmp_path):
    base = tmp_path / "tiny-imagenet-200"
    wnids = ["n02", "n01"]
    (base).mkdir()
    (base / "wnids.txt").write_text("\n".join(wnids) + "\n")
    for w in wnids:
        _png_tree(base / "train" / w / "images", ["."], 2, 64, ext=".JPEG")
    _png_tree(base / "val", ["images"], 3, 64, ext=".JPEG")
    (base / "val" / "val_annotations.txt").write_text(
        "0000.JPEG\tn01\t0\t0\t1\t1\n0001.JPEG\tn02\t0\t0\t1\t1\n0002.JPEG\tn01\t0\t0\t1\t1\n")
    real = load_source("tinyimagenet", tmp_path)
    assert real.classes == ["n01", "n02"]  # sorted wnids
    assert real.train_images.shape == (4, 3, 64, 64)
    assert real.test_labels.tolist() == [0, 1, 0]


def test_missing_data_says_where_it_looked_and_how_to_get_it(tmp_path):
    with pytest.raises(DataNotFoundError) as err:
        load_source("mnist", tmp_path)
    assert str(tmp_path) in str(err.value) and "--download" in str(err.value)
    with pytest.raises(DataNotFoundError, match="train/<class>"):
        load_source(f"imagefolder:{tmp_path}/nothing")


def test_unknown_dataset_lists_the_choices():
    with pytest.raises(UnknownNameError) as err:
        load_source("cifar11")
    for name in list_sources():
        assert name in str(err.value)


def test_data_root_resolution_order(tmp_path, monkeypatch):
    monkeypatch.setenv("CONDENSED_DATA_ROOT", str(tmp_path / "env"))
    assert resolve_data_root(tmp_path / "arg") == tmp_path / "arg"
    assert resolve_data_root(None) == tmp_path / "env"
    monkeypatch.delenv("CONDENSED_DATA_ROOT")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert resolve_data_root(None) == tmp_path / "cache" / "condensed-datasets" / "data"


@pytest.mark.skipif(not (SHARED_DATA / "mnist").is_dir(), reason="real MNIST from ../shared/data is absent")
def test_real_mnist_from_shared_data(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for gz in (SHARED_DATA / "mnist").glob("*.gz"):
        (raw / gz.stem).write_bytes(gzip.decompress(gz.read_bytes()))
    real = load_source("mnist", tmp_path)
    assert len(real.train_labels) == 60000 and len(real.test_labels) == 10000
    assert [len(i) for i in real.class_indices][:3] == [5923, 6742, 5958]
