"""condensed-datasets: condensed (distilled) image datasets, reproducible and one line away."""

from typing import TYPE_CHECKING, Any

from condensed_datasets.core.condensed_set import CondensedSet, DecoderSpec
from condensed_datasets.core.version import __version__
from condensed_datasets.datasets import (
    CondensedCIFAR10,
    CondensedCIFAR100,
    CondensedDataset,
    CondensedDigits,
    CondensedFashionMNIST,
    CondensedMNIST,
    CondensedSVHN,
    CondensedTinyImageNet,
    list_sets,
    load_condensed,
)
from condensed_datasets.training.sources import RealData, list_sources, load_source

__all__ = [
    "CondensedSet", "DecoderSpec", "RealData", "list_sources", "load_source", "__version__", "CondensedDataset",
    "CondensedDigits", "CondensedMNIST", "CondensedFashionMNIST", "CondensedSVHN", "CondensedCIFAR10",
    "CondensedCIFAR100", "CondensedTinyImageNet", "load_condensed", "list_sets", "evaluate", "EvalSettings",
]

if TYPE_CHECKING:
    from condensed_datasets.training.evaluate import EvalSettings, evaluate


def __getattr__(name: str) -> Any:
    """The evaluation API, imported on first use: loading a set should not pay for the training stack."""
    if name in ("evaluate", "EvalSettings"):
        from condensed_datasets.training import evaluate as module

        return getattr(module, name)
    raise AttributeError(f"module 'condensed_datasets' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
