"""Run one of the authors' condensation scripts unchanged, on the same real data as ours, and time its iterations.

    python _official.py FAMILY REPO_DIR SCRIPT DATASET DATA_ROOT STAMPS_JSON -- SCRIPT_ARGS...

Only data loading is patched, at run time: the family's ``get_dataset`` returns the tensors our
`load_source` reads (same images, same normalisation) instead of downloading them. The script's
source is compiled from its own file with one line added: a time stamp at the top of its iteration
loop (``for it in range(args.Iteration+1):``). STAMPS_JSON receives the stamps; iteration ``i`` took
``stamps[i + 1] - stamps[i]``. Run from a scratch directory: the scripts write results where they run.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset

from condensed_datasets.sources import load_source

LOOP = re.compile(r"^(?P<indent>[ \t]*)for it in range\(args\.Iteration ?\+ ?1\):[ \t]*$", re.M)


class _Pairs(Dataset):
    """(image tensor, int label) pairs, as the scripts index them."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        self.images, self.labels = images, labels.tolist()

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        return self.images[i], self.labels[i]


def _vico_tuple(dataset: str, data_root: str) -> tuple:
    """What VICO-UoE/DatasetCondensation utils.get_dataset returns, built from our data."""
    real = load_source(dataset, Path(data_root))
    train, test = _Pairs(real.train_images, real.train_labels), _Pairs(real.test_images, real.test_labels)
    return (real.channels, tuple(real.image_size), real.num_classes, list(real.classes), list(real.mean), list(real.std),
            train, test, DataLoader(test, batch_size=256, shuffle=False, num_workers=0))


def _patch_vico(dataset: str, data_root: str) -> None:
    import utils

    utils.get_dataset = lambda *args, **kwargs: _vico_tuple(dataset, data_root)


def _patch_idm(dataset: str, data_root: str) -> None:
    import utils

    # uitrbn/IDM utils.get_dataset (from MTT) adds loader_train_dict, class_map, class_map_inv (None for CIFAR).
    utils.get_dataset = lambda *args, **kwargs: (*_vico_tuple(dataset, data_root), None, None, None)


FAMILIES = {"vico": _patch_vico, "idm": _patch_idm}


def main() -> None:
    family, repo, script, dataset, data_root, stamps_path = sys.argv[1:7]
    script_args = sys.argv[sys.argv.index("--") + 1:]
    sys.path.insert(0, repo)
    FAMILIES[family](dataset, data_root)
    source = (Path(repo) / script).read_text()
    loop = LOOP.search(source)
    if loop is None:
        raise SystemExit(f"{script}: no `for it in range(args.Iteration+1):` loop to time")
    body_indent = loop["indent"] + " " * 4
    source = source[:loop.end()] + f"\n{body_indent}__stamps__.append(__time__.perf_counter())" + source[loop.end():]
    stamps: list[float] = []
    sys.argv = [script, *script_args]
    namespace = {"__name__": "__main__", "__file__": str(Path(repo) / script), "__stamps__": stamps, "__time__": time}
    try:
        exec(compile(source, str(Path(repo) / script), "exec"), namespace)
    finally:
        Path(stamps_path).write_text(json.dumps(stamps))


if __name__ == "__main__":
    main()
