"""Shared fixtures: the embedded digits dataset, loaded once, the test device, and a folder for built sets.

``CONDENSED_TEST_DEVICE=cuda`` (or ``cuda:1``) runs every recipe, evaluation, decoder, augmentation,
network and loader test on that device; unset, everything runs on the CPU.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from condensed_datasets.training.sources import RealData, load_source

sys.path.insert(0, str(Path(__file__).parent))  # test helpers such as fakehub


TEST_DEVICE = os.environ.get("CONDENSED_TEST_DEVICE", "cpu").strip() or "cpu"


def pytest_configure(config) -> None:
    try:
        kind = torch.device(TEST_DEVICE).type
    except RuntimeError:
        raise pytest.UsageError(f"CONDENSED_TEST_DEVICE={TEST_DEVICE!r} is not a device; use cpu or cuda") from None
    if kind not in ("cpu", "cuda"):
        raise pytest.UsageError(f"CONDENSED_TEST_DEVICE={TEST_DEVICE!r}: choose cpu or cuda")
    if kind == "cuda" and not torch.cuda.is_available():
        raise pytest.UsageError(f"CONDENSED_TEST_DEVICE={TEST_DEVICE} but no CUDA device is available here")
    if kind == "cuda":  # bit-exact resume and tight tolerances: full float32 and deterministic cuDNN
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False


def pytest_report_header(config) -> str:
    return f"condensed-datasets test device: {TEST_DEVICE}"


def sigterm_once_listening() -> threading.Thread:
    """A thread that sends this process a SIGTERM as soon as a handler other than the current one is installed
    (as a campaign's deadline or a scheduler would, but never before the run listens: the default handler ends pytest)."""
    before = signal.getsignal(signal.SIGTERM)

    def send() -> None:
        deadline = time.monotonic() + 60
        while signal.getsignal(signal.SIGTERM) is before and time.monotonic() < deadline:
            time.sleep(0.001)
        if signal.getsignal(signal.SIGTERM) is not before:
            os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


@pytest.fixture(scope="session")
def device() -> str:
    """Where recipe, evaluation, decoder and network tests compute (``$CONDENSED_TEST_DEVICE``, default cpu)."""
    return TEST_DEVICE


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


