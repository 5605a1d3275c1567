"""Seconds per iteration of each recipe on this machine, DM's batched classes versus its per-class loop, and
the recipes' network training in fp32, in bf16 autocast (``--train-precision``: IDC's network update,
the inner loop of DC, DSA and DCMG) and in bf16 through ``torch.compile`` (``--train-compile``).

    python benchmarks/recipe_speed.py [--dataset cifar10|digits] [--data-root DIR] [--ipc 10] [--repeats 3]
                                      [--methods dm,dsa,dc] [--train-methods idc] [--train-iterations 4]

``--methods ''`` leaves out the first two tables, ``--train-methods ''`` the last.

Each recipe runs with its published configuration (``dc``/``dsa`` iterations are long: one outer
iteration holds all outer and inner loops). DM is timed twice with identical work, ``batched_classes``
on and off, in the same process; each of ``--train-methods`` is timed with fp32, bf16 and compiled bf16 network
training, interleaved, its first iteration (setup, and the compilation) left out (so ``--train-iterations`` must
be at least 2); the tables give the median of ``--repeats`` runs and the ratios against fp32.
"""

from __future__ import annotations

import argparse
import tempfile
import time

from _data import median, real_data_root

from condensed_datasets.pipeline.build import build
from condensed_datasets.training.sources import load_source


def time_build(real, dataset: str, method: str, ipc: int, iterations: int, overrides: dict, out: str) -> float:
    t = time.perf_counter()
    build(dataset, method, ipc, out=out, source=real, iterations=iterations, overrides=overrides, progress=False)
    return (time.perf_counter() - t) / iterations


def seconds_per_iteration(real, dataset: str, method: str, ipc: int, iterations: int, out: str, **options) -> list[float]:
    """Each iteration's seconds after the first (which carries the setup)."""
    stamps: list[float] = []
    build(dataset, method, ipc, out=out, source=real, iterations=iterations, progress=False,
          on_iteration=lambda it, loss: stamps.append(time.perf_counter()), **options)
    return [b - a for a, b in zip(stamps, stamps[1:])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument("--data-root")
    parser.add_argument("--ipc", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--methods", default="dm,dsa,dc")
    parser.add_argument("--train-methods", default="idc", help="recipes timed with fp32, bf16 and compiled bf16 network training")
    parser.add_argument("--train-iterations", type=int, default=4, help="iterations per run of those (the first is left out)")
    args = parser.parse_args()
    real = load_source(args.dataset, None if args.dataset == "digits" else real_data_root(args.data_root))
    out = tempfile.mkdtemp()
    print(f"{args.dataset}, IPC {args.ipc}, published configs, CPU")
    methods = [m for m in args.methods.split(",") if m]
    if methods:
        print("| recipe | iterations timed | median s / iteration |")
        print("|---|---|---|")
    for method in methods:
        iters = 5 if method == "dm" else 1
        times = [time_build(real, args.dataset, method, args.ipc, iters, {}, out) for _ in range(args.repeats if method == "dm" else 1)]
        print(f"| {method} | {iters} x {len(times)} | {median(times):.2f} |", flush=True)
    if "dm" in methods:
        print()
        print("| DM classes | median s / iteration | speed-up |")
        print("|---|---|---|")
        loop = median([time_build(real, args.dataset, "dm", args.ipc, 5, {"batched_classes": False}, out) for _ in range(args.repeats)])
        batched = median([time_build(real, args.dataset, "dm", args.ipc, 5, {"batched_classes": True}, out) for _ in range(args.repeats)])
        print(f"| per-class loop (reference) | {loop:.3f} | 1.00x |")
        print(f"| one forward for all classes | {batched:.3f} | {loop / batched:.2f}x |")
    train_methods = [m for m in args.train_methods.split(",") if m]
    if train_methods:
        print()
        print("| network training | median s / iteration, fp32 | bf16 autocast | bf16 compiled | speed-ups |")
        print("|---|---|---|---|---|")
    modes = {"fp32": ("fp32", "off"), "bf16": ("bf16", "off"), "bf16 compiled": ("bf16", "on")}
    for method in train_methods:
        runs: dict[str, list[float]] = {mode: [] for mode in modes}
        for repeat in range(args.repeats):
            for mode, (precision, compilation) in modes.items():
                runs[mode] += seconds_per_iteration(real, args.dataset, method, args.ipc, args.train_iterations,
                                                    f"{out}/{method}-{precision}-{compilation}-{repeat}",
                                                    train_precision=precision, train_compilation=compilation)
        fp32, bf16, fused = (median(runs[mode]) for mode in modes)
        print(f"| {method} | {fp32:.2f} | {bf16:.2f} | {fused:.2f} | {fp32 / bf16:.2f}x, {fp32 / fused:.2f}x |", flush=True)

if __name__ == "__main__":
    main()
