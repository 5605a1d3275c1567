"""Accuracy with the speed levers on versus off, on real data: do bf16 real passes and bf16 evaluation change results?

    python benchmarks/precision_fidelity.py [--data-root DIR] [--dm-iterations 200] [--dc-iterations 100]
                                            [--models 5] [--epochs 300]

Rows (each set evaluated with the same protocol, epochs, model count and evaluation seed):
- DM, CIFAR-10 IPC 10: the set built with ``real_precision`` fp32 and bf16 (same seed), evaluated in fp32;
- evaluation precision: that fp32 DM set, and a DC MNIST IPC 1 set, each evaluated in fp32 and in bf16.
The allocator lever (`allocator.keep_freed_memory`) changes no number and is on in every row.
A difference is within noise when it is smaller than the larger of the two std over evaluation models.
"""

from __future__ import annotations

import argparse
import tempfile
import time

from _data import real_data_root

from condensed_datasets.build import build
from condensed_datasets.evaluate import evaluate
from condensed_datasets.sources import load_source
from condensed_datasets.storage import load


def _row(label: str, off: dict, on: dict) -> str:
    diff = on["mean"] - off["mean"]
    noise = max(off["std"], on["std"])
    verdict = "within noise" if abs(diff) <= noise else "beyond noise"
    return (f"| {label} | {off['mean']:.2f} ± {off['std']:.2f} | {on['mean']:.2f} ± {on['std']:.2f} | {diff:+.2f} ({verdict}) "
            f"| {off['seconds']:.0f} / {on['seconds']:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root")
    parser.add_argument("--dm-iterations", type=int, default=200)
    parser.add_argument("--dc-iterations", type=int, default=100)
    parser.add_argument("--models", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=300)
    args = parser.parse_args()
    root = real_data_root(args.data_root)
    out = tempfile.mkdtemp()
    cifar, mnist = load_source("cifar10", root), load_source("mnist", root)
    ev = {"models": args.models, "epochs": args.epochs, "seed": 0, "progress": False}
    print(f"{args.models} models x {args.epochs} epochs per evaluation; DM {args.dm_iterations} iterations, DC {args.dc_iterations}")
    print("| lever | off (fp32) | on (bf16) | difference | seconds off / on |\n|---|---|---|---|---|")
    sets = {}
    for precision in ("fp32", "bf16"):
        start = time.perf_counter()
        path = build("cifar10", "dm", 10, out=f"{out}/{precision}", real=cifar, iterations=args.dm_iterations,
                     progress=False, real_precision=precision)
        sets[precision] = (load(path), time.perf_counter() - start)
    off, on = (evaluate(sets[p][0], cifar, precision="fp32", **ev) for p in ("fp32", "bf16"))
    off["seconds"], on["seconds"] = sets["fp32"][1], sets["bf16"][1]  # the build times, for this row
    print(_row(f"DM CIFAR-10 IPC 10, real embeddings (build s)", off, on), flush=True)
    dm_set = sets["fp32"][0]
    print(_row("evaluation of that DM set", evaluate(dm_set, cifar, precision="fp32", **ev),
               evaluate(dm_set, cifar, precision="bf16", **ev)), flush=True)
    dc_set = load(build("mnist", "dc", 1, out=out, real=mnist, iterations=args.dc_iterations, progress=False))
    print(_row("evaluation of a DC MNIST IPC 1 set", evaluate(dc_set, mnist, precision="fp32", **ev),
               evaluate(dc_set, mnist, precision="bf16", **ev)), flush=True)


if __name__ == "__main__":
    main()
