"""condensed-datasets: condensed (distilled) image datasets, reproducible and one line away."""

__version__ = "0.1.0"

from .condensed_set import CondensedSet, DecoderSpec  # noqa: E402
from .sources import RealData, list_sources, load_source  # noqa: E402

__all__ = ["CondensedSet", "DecoderSpec", "RealData", "list_sources", "load_source", "__version__"]
