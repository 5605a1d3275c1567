"""Run one of the authors' condensation scripts unchanged, on the same real data as ours, and time its iterations.

    python _official.py FAMILY REPO_DIR SCRIPT DATASET DATA_ROOT STAMPS_JSON [--stop-after N] [--skip-evaluation]
                        -- SCRIPT_ARGS...

Only data loading (and, for code that hard-codes CUDA, the device) is patched: the family's loader
returns the tensors our `load_source` reads (same images, same normalisation) instead of downloading
them. The script's source is compiled from its own file with one line added: a time stamp at the top
of its iteration loop (VICO/IDM: ``for it in range(args.Iteration+1):``; IDC: ``for ot in
range(args.inner_loop):``, one image update per class as our IDC iteration). STAMPS_JSON receives the
stamps; iteration ``i`` took ``stamps[i + 1] - stamps[i]``. ``--stop-after N`` ends the run at the
N-th stamp (IDC's loop runs ``niter * 100`` steps whatever is asked). IDC's repository calls
``.cuda()`` and ``device='cuda'`` throughout: it runs from a temporary copy with the compatibility fix below and,
where no CUDA device is visible, those two spellings turned to the CPU's; nothing else changed. VICO's ``networks.py`` is loaded (and IDC's
copy written) with one compatibility fix: ``.view(x.size(0), -1)`` (IDC: ``.view(x.shape[0], -1)``) of a
feature map reads ``.reshape(...)`` (the same values; under torch 2 their DSA
crop hands a channels-last tensor on, which ``view`` refuses for MNIST's 3x3 feature maps — the scripts
crashed there; ``reshape`` is ``view`` wherever the tensor is contiguous, so CIFAR-10 runs the same code).
``--skip-evaluation`` (VICO only; for `official_sets.py`, which evaluates the saved sets itself) turns the
script's in-loop ``evaluate_synset`` into a no-op: ``main.py`` evaluates at iteration 0 whatever
``--epoch_eval_train`` says (it forces 1000 epochs with augmentation), minutes per experiment that change no
set (the script seeds nothing, so the random draws it skips only shift an unseeded stream).
Run from a scratch directory: the scripts write results where they run.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch.utils.data import DataLoader, Dataset

from condensed_datasets.training.sources import RealData, load_source

VICO_LOOP = re.compile(r"^(?P<indent>[ \t]*)for it in range\(args\.Iteration ?\+ ?1\):[ \t]*$", re.M)
IDC_LOOP = re.compile(r"^(?P<indent>[ \t]*)for ot in range\(args\.inner_loop\):[ \t]*$", re.M)


class StopTiming(BaseException):
    """Raised at the ``--stop-after`` stamp (a BaseException, so the script's own ``except Exception`` lets it by)."""

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


VIEW_OF_BATCH = re.compile(r"\.view\((\w+)\.(size\(0\)|shape\[0\]), -1\)")


def _reshape_for_view(source: str) -> str:
    """``source`` with every ``.view(x.size(0), -1)`` / ``.view(x.shape[0], -1)`` read as ``.reshape(...)``."""
    return VIEW_OF_BATCH.sub(r".reshape(\1.\2, -1)", source)


def _load_with_reshape(module: str) -> None:
    """Import ``module`` (from sys.path) with every ``.view(x.size(0), -1)`` read as ``.reshape(x.size(0), -1)``."""
    spec = importlib.util.find_spec(module)
    path = Path(spec.origin)
    code = compile(_reshape_for_view(path.read_text()), str(path), "exec")
    loaded = importlib.util.module_from_spec(spec)
    sys.modules[module] = loaded
    exec(code, loaded.__dict__)


def _patch_vico(dataset: str, data_root: str) -> None:
    _load_with_reshape("networks")  # before utils, which imports it
    import utils

    utils.get_dataset = lambda *args, **kwargs: _vico_tuple(dataset, data_root)


def _skip_vico_evaluation() -> None:
    import utils

    utils.evaluate_synset = lambda it_eval, net, *args, **kwargs: (net, 0.0, 0.0)  # (net, train acc, test acc)


def _patch_idm(dataset: str, data_root: str) -> None:
    import utils

    # uitrbn/IDM utils.get_dataset (from MTT) adds loader_train_dict, class_map, class_map_inv (None for CIFAR).
    utils.get_dataset = lambda *args, **kwargs: (*_vico_tuple(dataset, data_root), None, None, None)


class _PixelDataset(Dataset):
    """A torchvision-dataset stand-in for IDC's ``load_resized_data``: [0, 1] pixels for training, normalised for test."""

    def __init__(self, real: RealData, train: bool) -> None:
        mean, std = (torch.tensor(v).view(1, -1, 1, 1) for v in (real.mean, real.std))
        self.images = real.train_images * std + mean if train else real.test_images
        self.targets = (real.train_labels if train else real.test_labels).tolist()

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i: int):
        return self.images[i], self.targets[i]


def _patch_idc(dataset: str, data_root: str) -> None:
    import numpy
    from torchvision import datasets

    numpy.int = int  # misc/utils.py rand_bbox calls np.int, removed in NumPy 1.24: the builtin it aliased

    # Loaded before the patch: our MNIST source reads through torchvision's MNIST class, which the patch replaces.
    real = load_source(dataset, Path(data_root))
    loader = lambda root, train=True, transform=None, **kwargs: _PixelDataset(real, train)  # noqa: E731
    datasets.CIFAR10 = datasets.MNIST = loader


def _patched_copy(repo: Path, scratch: Path, to_cpu: bool) -> Path:
    """A copy of ``repo`` with the flattening ``view`` read as ``reshape`` (`_reshape_for_view`) and, with ``to_cpu``
    (no CUDA device here), ``'cpu'`` / ``.cpu()`` where its Python files said ``'cuda'`` / ``.cuda()``."""
    copy = scratch / f"{repo.name}-{'cpu' if to_cpu else 'patched'}"
    shutil.copytree(repo, copy, ignore=shutil.ignore_patterns(".git"))
    for path in copy.rglob("*.py"):
        text = path.read_text()
        if to_cpu:
            text = text.replace(".cuda()", ".cpu()").replace("'cuda'", "'cpu'").replace('"cuda"', '"cpu"')
        path.write_text(_reshape_for_view(text))
    return copy


@dataclass(frozen=True)
class Family:
    patch: Callable[[str, str], None]
    loop: re.Pattern
    patched_copy: bool = False  # runs from a `_patched_copy` (code that hard-codes CUDA)


FAMILIES = {"vico": Family(_patch_vico, VICO_LOOP), "idm": Family(_patch_idm, VICO_LOOP),
            "idc": Family(_patch_idc, IDC_LOOP, patched_copy=True)}


def _stamp_code(indent: str, stop_after: int | None) -> str:
    code = f"\n{indent}__stamps__.append(__time__.perf_counter())"
    if stop_after is not None:
        code += f"\n{indent}if len(__stamps__) >= {stop_after}: raise __stop__"
    return code


def main() -> None:
    split = sys.argv.index("--")
    parser = argparse.ArgumentParser()
    for name in ("family", "repo", "script", "dataset", "data_root", "stamps"):
        parser.add_argument(name)
    parser.add_argument("--stop-after", type=int)
    parser.add_argument("--skip-evaluation", action="store_true")
    args = parser.parse_args(sys.argv[1:split])
    family, script_args = FAMILIES[args.family], sys.argv[split + 1:]
    repo = (_patched_copy(Path(args.repo), Path.cwd(), to_cpu=not torch.cuda.is_available()) if family.patched_copy
            else Path(args.repo))
    sys.path.insert(0, str(repo))
    family.patch(args.dataset, args.data_root)
    if args.skip_evaluation:
        if args.family != "vico":
            raise SystemExit("--skip-evaluation: only for the vico family")
        _skip_vico_evaluation()
    source = (repo / args.script).read_text()
    loop = family.loop.search(source)
    if loop is None:
        raise SystemExit(f"{args.script}: no `{family.loop.pattern}` loop to time")
    source = source[:loop.end()] + _stamp_code(loop["indent"] + " " * 4, args.stop_after) + source[loop.end():]
    stamps: list[float] = []
    sys.argv = [args.script, *script_args]
    namespace = {"__name__": "__main__", "__file__": str(repo / args.script), "__stamps__": stamps, "__time__": time,
                 "__stop__": StopTiming}
    try:
        exec(compile(source, str(repo / args.script), "exec"), namespace)
    except StopTiming:
        pass
    finally:
        Path(args.stamps).write_text(json.dumps(stamps))


if __name__ == "__main__":
    main()
