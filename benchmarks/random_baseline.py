"""Random real images per class under a (reduced) evaluation protocol, beside the published Random column.

    python benchmarks/random_baseline.py [--data-root DIR] [--epochs 100] [--models 3] [--protocol dc]

Needs real MNIST and CIFAR-10 (../shared/data is unpacked automatically). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import time

from _data import real_data_root

from condensed_datasets.pipeline.build import build
from condensed_datasets.training.evaluate import evaluate
from condensed_datasets.training.sources import load_source
from condensed_datasets.core.storage import load

# DC paper, Table 1, "Random" (trained without augmentation).
PUBLISHED = {("mnist", 1): 64.9, ("mnist", 10): 95.1, ("mnist", 50): 97.9,
             ("cifar10", 1): 14.4, ("cifar10", 10): 26.0, ("cifar10", 50): 43.4}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-root")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--models", type=int, default=3)
    parser.add_argument("--protocol", default="dc")
    parser.add_argument("--datasets", default="mnist,cifar10")
    parser.add_argument("--ipcs", default="1,10,50")
    parser.add_argument("--out", default="/tmp/condensed-bench")
    args = parser.parse_args()
    root = real_data_root(args.data_root)
    print(f"| dataset | IPC | protocol | epochs | models | random (ours) | published Random | eval s |")
    print("|---|---|---|---|---|---|---|---|")
    for name in args.datasets.split(","):
        t = time.perf_counter()
        real = load_source(name, root)
        load_s = time.perf_counter() - t
        for ipc in map(int, args.ipcs.split(",")):
            path = build(name, "random", ipc, out=args.out, source=real, progress=False)
            r = evaluate(load(path), real, models=args.models, epochs=args.epochs, protocol=args.protocol, progress=False)
            print(f"| {name} | {ipc} | {r['protocol']} | {r['epochs']} | {r['models']} | {r['mean']:.1f} ± {r['std']:.1f} | "
                  f"{PUBLISHED[(name, ipc)]} | {r['seconds']:.0f} |", flush=True)
        print(f"(loading {name} took {load_s:.1f} s)", flush=True)


if __name__ == "__main__":
    main()
