"""Accuracy with the bf16 and compilation levers on versus off, on real data: does a lever change results?

    python benchmarks/precision_fidelity.py [--data-root DIR] [--levers real,eval,train,compile,compile-bf16,train-compile,match-compile]
                                            [--dm-iterations 200]
                                            [--train-sets cifar10/idc-i/10:100,digits/dc/10:30] [--seed 0]
                                            [--models 5] [--epochs 300]

DM on CIFAR-10 at IPC 10. ``real``: the set built with ``real_precision`` fp32 and bf16 (same seed,
same iterations), both evaluated identically in float32 (protocol, epochs, model count, evaluation
seed). ``eval``: the fp32-built set evaluated with ``precision`` fp32 and bf16 (same networks' seeds,
batches and augmentation draws). ``train``: each of ``--train-sets`` (``DATASET/METHOD/IPC:ITERATIONS``) built with
``train_precision`` fp32 and bf16 (IDC's network update on real batches, the inner loop of DC, DSA and
DCMG), both evaluated identically with the method's protocol (``--eval-precision``, default fp32). ``compile``:
the fp32-built DM set evaluated in float32 eagerly and through ``torch.compile`` (`compilation`; every other
row pins compilation off, so only its own lever differs). ``compile-bf16``: the same set evaluated in bf16
eagerly and compiled. ``train-compile``: each of ``--train-sets`` built with bf16 network training, eager and
through ``torch.compile`` (``train_compilation``; every other build pins it off). ``match-compile``: each of
``--train-sets`` built with its gradient-matching passes eager and compiled (``match_compilation``, `matching_pass`;
bf16 network training; every other build pins it off). A difference is within noise when it is smaller
than the larger of the two std over evaluation models.
The allocator lever (`allocator.keep_freed_memory`) changes no number (a test builds a set with it on
and off and compares the bytes) and is on in both rows.
"""

from __future__ import annotations

import argparse
import tempfile
import time

from _data import real_data_root

from condensed_datasets.condense.settings import RunSettings
from condensed_datasets.pipeline.build import build
from condensed_datasets.training.evaluate import evaluate
from condensed_datasets.training.sources import load_source
from condensed_datasets.core.storage import load


def _row(label: str, off: dict, on: dict) -> str:
    diff = on["mean"] - off["mean"]
    noise = max(off["std"], on["std"])
    verdict = "within noise" if abs(diff) <= noise else "beyond noise"
    return (f"| {label} | {off['mean']:.2f} ± {off['std']:.2f} | {on['mean']:.2f} ± {on['std']:.2f} | {diff:+.2f} ({verdict}) "
            f"| {off['seconds']:.0f} / {on['seconds']:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root")
    parser.add_argument("--levers", default="real,eval")
    parser.add_argument("--train-sets", default="cifar10/idc-i/10:100", help="DATASET/METHOD/IPC:ITERATIONS,...")
    parser.add_argument("--eval-precision", default="fp32", help="evaluation arithmetic of the train lever's two sets")
    parser.add_argument("--dm-iterations", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0, help="seed of the train lever's builds")
    parser.add_argument("--models", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=300)
    args = parser.parse_args()
    root = real_data_root(args.data_root)
    out = tempfile.mkdtemp()
    cifar = load_source("cifar10", root)
    ev = {"models": args.models, "epochs": args.epochs, "seed": 0, "progress": False, "compilation": "off"}
    levers = args.levers.split(",")
    print(f"{args.models} models x {args.epochs} epochs per evaluation; DM {args.dm_iterations} iterations")
    print("| lever | off (fp32, eager) | on (bf16, or compiled) | difference | seconds off / on |\n|---|---|---|---|---|")
    sets = {}
    for precision in ("fp32", "bf16") if "real" in levers else ("fp32",) if {"eval", "compile", "compile-bf16"} & set(levers) else ():
        start = time.perf_counter()
        path = build("cifar10", "dm", 10, out=f"{out}/{precision}", settings=RunSettings(real_precision=precision), source=cifar, iterations=args.dm_iterations,
                     progress=False)
        sets[precision] = (load(path), time.perf_counter() - start)
    if "real" in levers:
        off, on = (evaluate(sets[p][0], cifar, precision="fp32", **ev) for p in ("fp32", "bf16"))
        off["seconds"], on["seconds"] = sets["fp32"][1], sets["bf16"][1]  # the build times, for this row
        print(_row("DM CIFAR-10 IPC 10, real embeddings (build s)", off, on), flush=True)
    if "eval" in levers:
        off, on = (evaluate(sets["fp32"][0], cifar, precision=p, **ev) for p in ("fp32", "bf16"))
        print(_row("the same set's evaluation (evaluation s)", off, on), flush=True)
    if "compile" in levers:
        off, on = (evaluate(sets["fp32"][0], cifar, **{**ev, "precision": "fp32", "compilation": c}) for c in ("off", "on"))
        print(_row("the same set's fp32 evaluation, compiled (evaluation s)", off, on), flush=True)
    if "compile-bf16" in levers:
        off, on = (evaluate(sets["fp32"][0], cifar, **{**ev, "precision": "bf16", "compilation": c}) for c in ("off", "on"))
        print(_row("the same set's bf16 evaluation, compiled (evaluation s)", off, on), flush=True)
    # (train precision, train compilation, match compilation) of the two builds
    train_levers = {"train": (("fp32", "off", "off"), ("bf16", "off", "off"), "network training"),
                    "train-compile": (("bf16", "off", "off"), ("bf16", "on", "off"), "bf16 network training compiled"),
                    "match-compile": (("bf16", "off", "off"), ("bf16", "off", "on"), "matching passes compiled")}
    for lever, (before, after, what) in train_levers.items():
        for spec in args.train_sets.split(",") if lever in levers else ():
            name, iterations = spec.split(":")
            dataset, method, ipc = name.split("/")
            real = cifar if dataset == "cifar10" else load_source(dataset, None if dataset == "digits" else root)
            built = []
            for precision, compilation, matching in (before, after):
                start = time.perf_counter()
                path = build(dataset, method, int(ipc), out=f"{out}/{name}-{lever}-{len(built)}", settings=RunSettings(train_precision=precision, train_compilation=compilation, match_compilation=matching, seed=args.seed), source=real,
                             iterations=int(iterations), progress=False)
                built.append((load(path), time.perf_counter() - start))
            off, on = (evaluate(b[0], real, **{**ev, "precision": args.eval_precision}) for b in built)
            off["seconds"], on["seconds"] = built[0][1], built[1][1]
            print(_row(f"{method} {dataset} IPC {ipc} ({iterations} it., seed {args.seed}), {what} (build s)", off, on), flush=True)

if __name__ == "__main__":
    main()
