"""Where the benchmarks find real data: --data-root, else ../shared/data unpacked into the cache."""

from __future__ import annotations

import statistics
import subprocess
import sys
from pathlib import Path

from condensed_datasets.training.sources import default_data_root

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def real_data_root(data_root: str | None) -> Path:
    """A data root holding MNIST and CIFAR-10; unpacks ``../shared/data`` once when needed."""
    if data_root:
        return Path(data_root)
    root = default_data_root()
    if not (root / "cifar10" / ".complete").exists() and (SHARED / "prepare.py").exists():
        subprocess.run([sys.executable, str(SHARED / "prepare.py"), str(root)], check=True, stdout=subprocess.DEVNULL)
    return root


def median(values: list[float]) -> float:
    """The median of a list of timings."""
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (n - 1) over seeds; the std is 0 for a single value."""
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0
