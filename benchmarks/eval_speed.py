"""Training K evaluation networks together versus one after another (same work), and peak memory.

    python benchmarks/eval_speed.py [--dataset digits|cifar10] [--models 10] [--epochs 20] [--repeats 3]
                                    [--modes sequential:fp32,loop:fp32,loop:bf16,vmap:fp32]

A mode is ``together[:precision]`` (`evaluate.TOGETHER_MODES`, `precision.PRECISIONS`; precision
defaults to fp32, the papers' arithmetic). Runs on the embedded digits by default (no data needed); ``--dataset cifar10`` uses real CIFAR-10
(../shared/data is unpacked automatically). Prints the median wall time of each mode and its ratio
against the first mode (``sequential:fp32``: one network after another, as the papers' code does).
Peak memory is the process's max RSS growth during that mode's runs (the first mode pays the
allocator's warm-up). Every mode trains the same networks on the same batches; the accuracy column
shows whether a mode changed the result.
"""

from __future__ import annotations

import argparse
import resource
import time

import torch
from _data import median, real_data_root

from condensed_datasets.engine import real_init
from condensed_datasets.evaluate import train_and_test
from condensed_datasets.sources import load_source


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--data-root")
    parser.add_argument("--ipc", type=int, default=10)
    parser.add_argument("--models", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--modes", default="sequential:fp32,loop:fp32,loop:bf16,vmap:fp32")
    args = parser.parse_args()
    root = real_data_root(args.data_root) if args.dataset != "digits" else None
    real = load_source(args.dataset, root)
    images = real_init(real, args.ipc, torch.Generator().manual_seed(0))
    labels = torch.arange(real.num_classes).repeat_interleave(args.ipc)
    print(f"{args.dataset}, IPC {args.ipc}, {args.models} x ConvNet, {args.epochs} epochs (dsa protocol), "
          f"{torch.get_num_threads()} threads, device {args.device}")
    print("| mode | median s | vs sequential | peak RSS growth MB | mean acc % |")
    print("|---|---|---|---|---|")
    base = None
    for spec in args.modes.split(","):
        mode, _, precision = spec.partition(":")
        times, rss_before = [], resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        for r in range(args.repeats):
            t = time.perf_counter()
            result = train_and_test(images, labels, real, models=args.models, epochs=args.epochs, protocol="dsa",
                                    together=mode, precision=precision or "fp32", device=args.device, seed=r,
                                    progress=False)
            times.append(time.perf_counter() - t)
        grow = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
        med = median(times)
        base = base or med
        print(f"| {spec} | {med:.2f} | {base / med:.2f}x | {grow:.0f} | {result['mean']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
