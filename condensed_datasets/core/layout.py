"""The folder layout of sets, one rule for the build, the loader, the cards, the Hub and the collection.

A set lives at ``<root>/<dataset>/<method>/ipc<N>/condensed.safetensors`` with its companions
(``eval.json``, ``preview.png``, ``preview.parquet``, the build checkpoint) beside it; inside a
dataset's Hub repo the same set is ``<method>/ipc<N>/condensed.safetensors``. This module imports
nothing of the build or the recipes, so loading a set never pulls them in.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from condensed_datasets.core.errors import brief

SET_FILENAME = "condensed.safetensors"
EVAL_FILENAME = "eval.json"
PREVIEW_FILENAME = "preview.png"
PARQUET_FILENAME = "preview.parquet"
CHECKPOINT_FILENAME = "checkpoint.safetensors"
EVAL_CHECKPOINT_FILENAME = "eval-checkpoint.safetensors"  # the networks an unfinished evaluation has trained
BUILD_FILENAME = "build.json"  # where and how long a set was built (the set file itself stays byte-reproducible)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_IPC_FOLDER = re.compile(r"^ipc[1-9][0-9]*$")


def check_name(value: str, what: str) -> str:
    """Refuse names that could escape a folder (``..``, slashes, empty)."""
    if not isinstance(value, str) or not _NAME.match(value) or ".." in value:
        raise ValueError(f"invalid {what} {brief(value)}: use letters, digits, '.', '_' or '-' (no slashes or '..')")
    return value


def dataset_slug(dataset: str) -> str:
    """The folder name of a dataset: the registry name, or the folder name for ``imagefolder:PATH``."""
    if dataset.startswith("imagefolder:"):
        dataset = Path(dataset.split(":", 1)[1]).expanduser().resolve().name
    return re.sub(r"[^A-Za-z0-9._-]+", "-", dataset).strip("-") or "imagefolder"


def set_relative_dir(method: str, ipc: int) -> str:
    """``<method>/ipc<N>``: a set's folder inside its dataset folder (and inside its Hub repo)."""
    return f"{check_name(method, 'method')}/ipc{int(ipc)}"


def path_in_repo(method: str, ipc: int) -> str:
    """``<method>/ipc<N>/condensed.safetensors``: a set's file inside its dataset repo."""
    return f"{set_relative_dir(method, ipc)}/{SET_FILENAME}"


def set_dir(root: str | os.PathLike, dataset: str, method: str, ipc: int) -> Path:
    """``ROOT/<dataset>/<method>/ipc<N>``: where one set and its companions live."""
    return Path(root) / dataset_slug(dataset) / set_relative_dir(method, ipc)


def set_path(root: str | os.PathLike, dataset: str, method: str, ipc: int) -> Path:
    """``ROOT/<dataset>/<method>/ipc<N>/condensed.safetensors``."""
    return set_dir(root, dataset, method, ipc) / SET_FILENAME


def set_files(folder: str | os.PathLike, pattern: str = "*/ipc*") -> list[Path]:
    """The set files ``folder/<pattern>/condensed.safetensors``, sorted: files in ``ipc<N>`` folders only (a folder
    that happens to be called ``condensed.safetensors`` is not a set)."""
    found = Path(folder).glob(f"{pattern}/{SET_FILENAME}")
    return sorted(p for p in found if p.is_file() and _IPC_FOLDER.match(p.parent.name))
