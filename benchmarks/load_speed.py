"""Loading a condensed CIFAR-10 set (IPC 50, multi-formation f = 2) from a local root, decode included.

    python benchmarks/load_speed.py [--data-root DIR] [--repeats 5]

Median of ``--repeats`` fresh loads (each in a new process, so nothing is cached in memory), with the
extra resident memory the load costs; beside it, the time torchvision takes to open the full real
CIFAR-10 test split (``ImageFolder`` over ../shared/data, unpacked automatically) as a reference.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
from _data import median, real_data_root

from condensed_datasets.core.condensed_set import CondensedSet
from condensed_datasets.core.decoders import multi_formation_spec
from condensed_datasets.training.sources import SOURCES

PROBE = """
import json, resource, sys, time
t0 = time.perf_counter(); rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
{body}
print(json.dumps({{"seconds": time.perf_counter() - t0,
                   "extra_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024, "n": n}}))
"""
OURS = """
from condensed_datasets import CondensedCIFAR10
t0 = time.perf_counter(); rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
n = len(CondensedCIFAR10(root=sys.argv[1], method="random", ipc=50, download=False))
"""
TORCHVISION = """
from torchvision.datasets import ImageFolder
t0 = time.perf_counter(); rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
n = len(ImageFolder(sys.argv[1]))
"""


def _run(body: str, arg: str) -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE.format(body=body), arg], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-root")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    spec = SOURCES.get("cifar10")
    with tempfile.TemporaryDirectory() as root:
        path = Path(root) / "cifar10" / "random" / "ipc50" / "condensed.safetensors"
        meta = {"dataset": "cifar10", "classes": [str(i) for i in range(10)], "mean": list(spec.mean), "std": list(spec.std),
                "method": "random", "ipc": 50}
        CondensedSet(torch.randn(500, 3, 32, 32), torch.arange(10).repeat_interleave(50), meta,
                     multi_formation_spec(2, spec.mean, spec.std)).save(path)
        ours = [_run(OURS, root) for _ in range(args.repeats)]
    print("| what | images | median s | extra RSS MB (median) |")
    print("|---|---|---|---|")
    print(f"| CondensedCIFAR10 IPC 50, f=2, local (load + decode) | {ours[0]['n']} | "
          f"{median([r['seconds'] for r in ours]):.4f} | {median([r['extra_mb'] for r in ours]):.1f} |")
    test_dir = real_data_root(args.data_root) / "cifar10" / "test"
    if test_dir.is_dir():
        tv = [_run(TORCHVISION, str(test_dir)) for _ in range(args.repeats)]
        print(f"| torchvision ImageFolder, CIFAR-10 test split (open only) | {tv[0]['n']} | "
              f"{median([r['seconds'] for r in tv]):.4f} | {median([r['extra_mb'] for r in tv]):.1f} |")


if __name__ == "__main__":
    main()
