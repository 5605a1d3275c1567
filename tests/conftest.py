"""Shared fixtures: the embedded digits dataset, loaded once, and a folder for built sets."""

from __future__ import annotations

import pytest
import torch

from condensed_datasets.sources import RealData, load_source


@pytest.fixture(scope="session")
def digits() -> RealData:
    """scikit-learn's bundled digits (real data, offline)."""
    return load_source("digits")


@pytest.fixture(autouse=True)
def _deterministic_threads():
    torch.set_num_threads(2)
    yield
