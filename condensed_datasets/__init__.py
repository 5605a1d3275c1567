"""condensed-datasets: condensed (distilled) image datasets, reproducible and one line away."""

import importlib
from typing import TYPE_CHECKING, Any

from condensed_datasets.core.condensed_set import CondensedSet, DecoderSpec
from condensed_datasets.core.version import __version__
from condensed_datasets.training.sources import RealData, list_sources, load_source

__all__ = [
    "CondensedSet", "DecoderSpec", "RealData", "list_sources", "load_source", "__version__", "CondensedDataset",
    "CondensedDigits", "CondensedMNIST", "CondensedFashionMNIST", "CondensedSVHN", "CondensedCIFAR10",
    "CondensedCIFAR100", "CondensedTinyImageNet", "load_condensed", "list_sets", "evaluate", "EvalSettings",
]

if TYPE_CHECKING:
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
    from condensed_datasets.training.evaluate import EvalSettings, evaluate

# Imported on first use: the loaders bring torchvision (and with it Dynamo: seconds), the evaluation API the
# training stack; the command line and a plain `import condensed_datasets` pay for neither until they use them.
_LAZY = {
    **dict.fromkeys(("CondensedDataset", "CondensedDigits", "CondensedMNIST", "CondensedFashionMNIST", "CondensedSVHN",
                     "CondensedCIFAR10", "CondensedCIFAR100", "CondensedTinyImageNet", "load_condensed", "list_sets"),
                    "condensed_datasets.datasets"),
    **dict.fromkeys(("evaluate", "EvalSettings"), "condensed_datasets.training.evaluate"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'condensed_datasets' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
