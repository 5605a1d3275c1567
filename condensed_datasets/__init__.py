"""condensed-datasets: condensed (distilled) image datasets, reproducible and one line away."""

__version__ = "0.1.0"

from condensed_datasets.core.condensed_set import CondensedSet, DecoderSpec  # noqa: E402
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
from condensed_datasets.training.sources import RealData, list_sources, load_source  # noqa: E402

__all__ = [
    "CondensedSet", "DecoderSpec", "RealData", "list_sources", "load_source", "__version__", "CondensedDataset",
    "CondensedDigits", "CondensedMNIST", "CondensedFashionMNIST", "CondensedSVHN", "CondensedCIFAR10",
    "CondensedCIFAR100", "CondensedTinyImageNet", "load_condensed", "list_sets",
]
