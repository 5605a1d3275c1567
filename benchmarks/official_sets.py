"""Sets built by the authors' code and by ours at equal budget, evaluated identically, seed by seed.

    python benchmarks/official_sets.py --official-dir DIR [--data-root DIR] [--dataset mnist] [--method dc]
                                       [--ipc 1] [--iterations 200] [--seeds 5] [--init real]
                                       [--models 5] [--epochs E] [--precision fp32]
                                       [--sides official,ours] [--ours-seeds 0,1,...]

DIR as for `versus_official.py` (VICO-UoE/DatasetCondensation for dc, dsa, dm). The official script
runs unchanged (`_official.py` swaps only its data loading for our tensors) with ``--num_exp SEEDS``:
it seeds nothing, so its experiments are independent draws; its saved ``res_*.pt`` (tensors only,
read with ``weights_only=True``) holds one set per experiment. Ours builds one set per seed 0..SEEDS-1
with the same config. Every set, theirs and ours, is evaluated by our `train_and_test` with the
method's protocol, the same epochs, model count and evaluation seed. The table lists every set, then
mean ± sample std over sets for each side and the gap in units of the larger std (|gap| < 1: within the
spread of seeds). ``--sides ours --ours-seeds 3,4`` adds seeds to an earlier table without rerunning
the rest (every set's evaluation depends only on the set and the evaluation seed).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch
from _data import mean_std, real_data_root
from versus_official import OFFICIAL, run_official

from condensed_datasets.condense.settings import RunSettings
from condensed_datasets.pipeline.build import build
from condensed_datasets.training.evaluate import evaluate, train_and_test
from condensed_datasets.recipes import get_method
from condensed_datasets.training.sources import load_source
from condensed_datasets.core.storage import load


def official_sets(args, real, config, root: Path) -> list[tuple[torch.Tensor, torch.Tensor]]:
    spec = OFFICIAL[args.method]
    # VICO's loop is `for it in range(args.Iteration+1)` with an image update in every pass and the set saved after
    # the last: --Iteration N - 1 makes the N updates ours makes. argparse keeps the last --num_exp.
    argv = [*spec.args(config, real, args.ipc, args.iterations - 1), "--num_exp", str(args.seeds)]
    with tempfile.TemporaryDirectory() as scratch:
        run_official(spec, args.official_dir, real, argv, root, Path(scratch), skip_evaluation=True)
        (saved,) = Path(scratch).glob("result/res_*.pt")
        data = torch.load(saved, weights_only=True)["data"]
    return [(images, labels.long()) for images, labels in data]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--official-dir", required=True, type=Path)
    parser.add_argument("--data-root")
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--method", default="dc", choices=["dc", "dsa", "dm"])
    parser.add_argument("--ipc", type=int, default=1)
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--init", default="real", choices=["real", "noise"])
    parser.add_argument("--models", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=None, help="evaluation epochs (default: the protocol's)")
    parser.add_argument("--precision", default="fp32", help="evaluation arithmetic (auto|bf16|fp32)")
    parser.add_argument("--sides", default="official,ours", help="which sides to run: official, ours or both")
    parser.add_argument("--ours-seeds", help="comma-separated seeds of our builds (default: 0..SEEDS-1)")
    args = parser.parse_args()
    sides = set(args.sides.split(","))
    if not sides <= {"official", "ours"}:
        parser.error(f"--sides {args.sides!r}: choose from official, ours (comma-separated)")
    ours_seeds = [int(s) for s in args.ours_seeds.split(",")] if args.ours_seeds else list(range(args.seeds))
    root = real_data_root(args.data_root)
    real = load_source(args.dataset, root)
    # The script run is VICO's current main.py, whose inner-loop network SGD has no momentum (since e9d935b); our
    # DC uses the paper-era 0.5 (recipes/dc.py), so ours matches the code it is compared with.
    overrides = {"init": args.init, **({"net_momentum": 0.0} if args.method == "dc" else {})}
    config = get_method(args.method).config(args.dataset, args.ipc, overrides)
    protocol = get_method(args.method).protocol
    ev = dict(models=args.models, epochs=args.epochs, protocol=protocol, seed=0, progress=False, precision=args.precision)
    rows: dict[str, list[float]] = {"official": [], "ours": []}
    print(f"{args.dataset} {args.method} IPC {args.ipc}, {args.iterations} iterations, init {args.init}, "
          f"evaluation: {protocol} protocol, {args.models} models, {args.precision}, evaluation seed 0")
    print("| side | set | accuracy % (mean ± std over models) |")
    print("|---|---|---|")
    for i, (images, labels) in enumerate(official_sets(args, real, config, root) if "official" in sides else []):
        r = train_and_test(images, labels, real, **ev)
        rows["official"].append(r["mean"])
        print(f"| official | experiment {i} | {r['mean']:.2f} ± {r['std']:.2f} |", flush=True)
    with tempfile.TemporaryDirectory() as out:
        for seed in ours_seeds if "ours" in sides else []:
            path = build(args.dataset, args.method, args.ipc, out=Path(out) / str(seed), settings=RunSettings(seed=seed), source=real,
                         iterations=args.iterations, overrides=overrides, progress=False)
            r = evaluate(load(path), real, **ev)
            rows["ours"].append(r["mean"])
            print(f"| ours | seed {seed} | {r['mean']:.2f} ± {r['std']:.2f} |", flush=True)
    if not (rows["official"] and rows["ours"]):
        return
    (om, osd), (m, sd) = mean_std(rows["official"]), mean_std(rows["ours"])
    spread = max(osd, sd)
    in_std = f" = {(m - om) / spread:+.2f} std" if spread > 0 else " (no spread over one set each)"
    print(f"\nofficial {om:.2f} ± {osd:.2f} %, ours {m:.2f} ± {sd:.2f} % over sets; gap {m - om:+.2f} points{in_std}")


if __name__ == "__main__":
    main()
