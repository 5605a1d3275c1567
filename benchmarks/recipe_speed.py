"""Seconds per iteration of each recipe on this machine, and DM's batched classes versus its per-class loop.

    python benchmarks/recipe_speed.py [--dataset cifar10|digits] [--data-root DIR] [--ipc 10] [--repeats 3]

Each recipe runs with its published configuration (``dc``/``dsa`` iterations are long: one outer
iteration holds all outer and inner loops). DM is timed twice with identical work, ``batched_classes``
on and off, in the same process; the table gives the median of ``--repeats`` runs and the ratio.
"""

from __future__ import annotations

import argparse
import tempfile
import time

from _data import median, real_data_root

from condensed_datasets.build import build
from condensed_datasets.sources import load_source


def time_build(real, dataset: str, method: str, ipc: int, iterations: int, overrides: dict, out: str) -> float:
    t = time.perf_counter()
    build(dataset, method, ipc, out=out, real=real, iterations=iterations, overrides=overrides, progress=False)
    return (time.perf_counter() - t) / iterations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument("--data-root")
    parser.add_argument("--ipc", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--methods", default="dm,dsa,dc")
    args = parser.parse_args()
    real = load_source(args.dataset, None if args.dataset == "digits" else real_data_root(args.data_root))
    out = tempfile.mkdtemp()
    print(f"{args.dataset}, IPC {args.ipc}, published configs, CPU")
    print("| recipe | iterations timed | median s / iteration |")
    print("|---|---|---|")
    for method in args.methods.split(","):
        iters = 5 if method == "dm" else 1
        times = [time_build(real, args.dataset, method, args.ipc, iters, {}, out) for _ in range(args.repeats if method == "dm" else 1)]
        print(f"| {method} | {iters} x {len(times)} | {median(times):.2f} |", flush=True)
    print()
    print("| DM classes | median s / iteration | speed-up |")
    print("|---|---|---|")
    loop = median([time_build(real, args.dataset, "dm", args.ipc, 5, {"batched_classes": False}, out) for _ in range(args.repeats)])
    batched = median([time_build(real, args.dataset, "dm", args.ipc, 5, {"batched_classes": True}, out) for _ in range(args.repeats)])
    print(f"| per-class loop (reference) | {loop:.3f} | 1.00x |")
    print(f"| one forward for all classes | {batched:.3f} | {loop / batched:.2f}x |")


if __name__ == "__main__":
    main()
