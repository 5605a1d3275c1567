"""Compare the sets of two output roots, file by file: are the tensors bit-identical, what metadata differs.

    python benchmarks/compare_sets.py BEFORE_ROOT AFTER_ROOT [RELATIVE_SET ...]

Used to show that a refactoring changed no number: build the same sets with the same seed and settings
before and after (``condensed build digits --method dm --ipc 10 --iterations 20 --out BEFORE ...``), then
compare. Without RELATIVE_SET every ``<dataset>/<method>/ipc<N>/condensed.safetensors`` under BEFORE_ROOT.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file


def flat(document: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in document.items():
        if isinstance(value, dict) and value:
            out.update(flat(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def header(path: Path) -> dict:
    with safe_open(str(path), "pt") as f:
        metadata = f.metadata() or {}
    return flat({k: json.loads(v) if v[:1] in "{[" else v for k, v in metadata.items()})


def main(before: Path, after: Path, relative: list[str]) -> int:
    relative = relative or sorted(str(p.relative_to(before)) for p in before.glob("*/*/ipc*/condensed.safetensors"))
    differ = 0
    for rel in relative:
        ta, tb = load_file(before / rel), load_file(after / rel)
        same = sorted(ta) == sorted(tb) and all(torch.equal(ta[k], tb[k]) for k in ta)
        ma, mb = header(before / rel), header(after / rel)
        shapes = ", ".join(f"{k} {list(v.shape)}" for k, v in sorted(ta.items()))
        print(f"{rel}: tensors bit-identical: {same} ({shapes})")
        print(f"  metadata removed: {({k: ma[k] for k in ma if k not in mb})}")
        print(f"  metadata added:   {({k: mb[k] for k in mb if k not in ma})}")
        print(f"  metadata changed: {({k: (ma[k], mb[k]) for k in ma if k in mb and ma[k] != mb[k]})}")
        differ += not same
    return 1 if differ else 0


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:]))
