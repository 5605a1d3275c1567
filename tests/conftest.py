"""Shared fixtures: the embedded digits dataset, loaded once, and a folder for built sets."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from condensed_datasets.sources import RealData, load_source

sys.path.insert(0, str(Path(__file__).parent))  # test helpers such as fakehub


@pytest.fixture(scope="session")
def digits() -> RealData:
    """scikit-learn's bundled digits (real data, offline)."""
    return load_source("digits")


@pytest.fixture(autouse=True)
def _deterministic_threads():
    torch.set_num_threads(2)
    yield


@pytest.fixture(scope="session")
def _hub_server():
    from fakehub import FakeHubServer

    with FakeHubServer() as server:
        yield server


@pytest.fixture
def fake_hub(_hub_server, tmp_path, monkeypatch):
    """A Hub on 127.0.0.1 reached by the real huggingface_hub client; caches and registry in tmp_path."""
    import huggingface_hub.constants as hf_constants

    _hub_server.reset()
    monkeypatch.setenv("HF_ENDPOINT", _hub_server.endpoint)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "hf_home" / "hub"))
    monkeypatch.setattr(hf_constants, "HF_HUB_DISABLE_XET", True)
    monkeypatch.setattr(hf_constants, "HF_HUB_DISABLE_TELEMETRY", True)
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    monkeypatch.setenv("CONDENSED_REGISTRY", str(tmp_path / "registry.json"))
    monkeypatch.setenv("HF_TOKEN", "hf_test_token")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return _hub_server


CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def write_tiny_cifar10(root: Path) -> Path:
    """A tiny CIFAR-10 in the real image-folder layout (12 random PNGs per class and split) under ``root``."""
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for c in CIFAR_CLASSES:
            folder = root / "cifar10" / split / c
            folder.mkdir(parents=True)
            for i in range(12):
                Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(folder / f"{i:04d}.png")
    return root


@pytest.fixture
def cifar_root(tmp_path):
    """`write_tiny_cifar10` in tmp_path/data."""
    return write_tiny_cifar10(tmp_path / "data")


