"""Training K evaluation networks together versus one after another (same work), and peak memory.

    python benchmarks/eval_speed.py [--dataset digits|cifar10] [--models 10] [--epochs 20] [--repeats 3]
                                    [--modes sequential:fp32,loop:fp32,loop:bf16,vmap:fp32,loop:fp32:compile]

A mode is ``together[:precision][:compile]`` (`evaluate.TOGETHER_MODES`, `precision.PRECISIONS`; precision
defaults to fp32, the papers' arithmetic; ``compile`` runs the networks through ``torch.compile``, its
compilation time included in the mode's time). Runs on the embedded digits by default (no data needed);
``--dataset cifar10`` uses real CIFAR-10 (../shared/data is unpacked automatically). Prints the median
wall time of each mode and its ratio against the first mode (``sequential:fp32``: one network after
another, as the papers' code does). Each mode runs in a fresh process, so its memory is its own: the
peak resident memory while it trains (sampled every 10 ms from /proc/self/statm) and its growth over the
resident memory once the data was loaded. Every mode trains the same networks on the same batches; the
accuracy column shows whether a mode changed the result.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time

import torch
from _data import median, real_data_root

from condensed_datasets.condense.sampling import real_init
from condensed_datasets.training.evaluate import train_and_test
from condensed_datasets.training.sources import load_source


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:  # Linux: size resident shared ... (pages)
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class _PeakRSS:
    """The highest resident memory seen while the block runs, sampled by a thread."""

    def __enter__(self) -> "_PeakRSS":
        self.peak, self._stop = _rss_mb(), threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, _rss_mb())

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_mb())


def run_one(args: argparse.Namespace, spec: str) -> dict:
    """Time one mode in this process; its timings, accuracy and memory."""
    root = real_data_root(args.data_root) if args.dataset != "digits" else None
    real = load_source(args.dataset, root)
    images = real_init(real, args.ipc, torch.Generator().manual_seed(0))
    labels = torch.arange(real.num_classes).repeat_interleave(args.ipc)
    loaded = _rss_mb()
    mode, precision, compile_flag = (spec.split(":") + ["", ""])[:3]
    times = []
    with _PeakRSS() as memory:
        for r in range(args.repeats):
            t = time.perf_counter()
            result = train_and_test(images, labels, real, models=args.models, epochs=args.epochs, protocol="dsa",
                                    together=mode, precision=precision or "fp32",
                                    compilation="on" if compile_flag == "compile" else "off", device=args.device, seed=r, progress=False)
            times.append(time.perf_counter() - t)
    return {"times": times, "mean": result["mean"], "loaded_mb": loaded, "peak_mb": memory.peak}


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
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: run this one mode, print JSON
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args, args.one)))
        return
    print(f"{args.dataset}, IPC {args.ipc}, {args.models} x ConvNet, {args.epochs} epochs (dsa protocol), "
          f"{torch.get_num_threads()} threads, device {args.device}, each mode in a fresh process")
    print("| mode | median s | vs first | peak RSS while training MB | growth over loaded data MB | mean acc % |")
    print("|---|---|---|---|---|---|")
    base = None
    for spec in args.modes.split(","):
        done = subprocess.run([sys.executable, __file__, *sys.argv[1:], "--one", spec], capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"mode {spec} failed:\n{done.stderr[-3000:]}")
        r = json.loads(done.stdout.strip().splitlines()[-1])
        med = median(r["times"])
        base = base or med
        print(f"| {spec} | {med:.2f} | {base / med:.2f}x | {r['peak_mb']:.0f} | {r['peak_mb'] - r['loaded_mb']:.0f} "
              f"| {r['mean']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
