"""Seconds per iteration of our recipes and of the authors' code, side by side, same config, same data.

    python benchmarks/versus_official.py --official-dir DIR [--datasets cifar10,mnist] [--methods dm,dsa,dc,idm,idc]
                                         [--ipc 10] [--repeats 2] [--iterations dm=6,...]

DIR holds the authors' repositories, cloned by you (never part of this project):
``DatasetCondensation`` (VICO-UoE: DC, DSA, DM), ``Efficient-Dataset-Condensation`` (snu-mllab: IDC) and
``IDM`` (uitrbn: IDM, CIFAR only; it imports
``torchnet``, ``kornia`` (with ``kornia_rs``) and ``matplotlib``: ``pip install --no-deps --target SITE`` them
and put SITE on PYTHONPATH; torchnet imports ``visdom`` at import time, an empty ``visdom.py`` on
PYTHONPATH suffices as IDM uses only ``torchnet.meter``). Their scripts run
unchanged in a subprocess (`_official.py` swaps only their data loading for the very tensors ours
reads and stamps their iteration loop); ours runs in this process through `build` with an
``on_iteration`` stamp. Runs alternate ours, theirs, ours, theirs; data loading, set-up, evaluation
and the first (warm-up) iteration are excluded from both. The table gives each side's median over
repeats of its mean seconds per iteration, and the ratio official / ours (> 1: ours is faster).
Time it alone: two heavy processes on a 2-core machine slow each other several-fold.

The authors' scripts run with glibc's default allocator, as their users run them (``MALLOC_*`` variables
of this shell are removed from their environment), while ours keeps freed memory (`allocator`), one of
our levers. ``--official-allocator keep-freed`` gives their scripts the same allocator setting through
glibc's environment variables instead: the ratio then shows our other levers alone.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from _data import median, real_data_root

from condensed_datasets.condense.settings import RunSettings
from condensed_datasets.training.allocator import KEEP_FREED_ENV
from condensed_datasets.pipeline.build import build
from condensed_datasets.recipes import get_method
from condensed_datasets.training.sources import RealData, load_source

HERE = Path(__file__).resolve().parent
OFFICIAL_NAMES = {"cifar10": "CIFAR10", "mnist": "MNIST"}
# --official-allocator: the glibc environment of the authors' scripts
OFFICIAL_ALLOCATORS = {"default": {}, "keep-freed": KEEP_FREED_ENV}


@dataclass(frozen=True)
class Official:
    """Where a method's official script lives and how our config maps onto its arguments."""

    family: str  # a key of _official.FAMILIES
    repo: str  # folder name under --official-dir
    script: str
    datasets: tuple[str, ...]
    args: Callable[[dict[str, Any], RealData, int, int], list[str]]  # (our config, real data, ipc, iterations) -> argv
    stops_itself: bool = True  # False: its loop ignores the iteration count; _official.py stops it (--stop-after)


def _common(config: dict[str, Any], real: RealData, ipc: int, iterations: int, strategy: str) -> list[str]:
    return ["--dataset", OFFICIAL_NAMES[real.name], "--model", "ConvNet", "--ipc", str(ipc), "--num_exp", "1",
            "--num_eval", "1", "--epoch_eval_train", "1", "--Iteration", str(iterations),
            "--batch_real", str(config["batch_real"]), "--lr_img", str(config["lr_img"]), "--dsa_strategy", strategy]


def _gradient_matching(method: str) -> Callable:
    def args(config, real, ipc, iterations):
        strategy = config["dsa_strategy"] or ("none" if method == "dc" else real.dsa_strategy)
        return ["--method", method.upper(), *_common(config, real, ipc, iterations, strategy), "--init", config["init"],
                "--lr_net", str(config["lr_net"]), "--batch_train", str(config["batch_train"])]
    return args


def _dm(config, real, ipc, iterations):
    return [*_common(config, real, ipc, iterations, config["dsa_strategy"] or real.dsa_strategy), "--init", config["init"]]


def _idm(config, real, ipc, iterations):
    # uitrbn/IDM command.txt, CIFAR10/10, with our config's values.
    return [*_common(config, real, ipc, iterations, config["dsa_strategy"] or real.dsa_strategy),
            "--init", "real", "--aug", "--net_train_real", "--eval_interval", "100", "--outer_loop", "1",
            "--mismatch_lambda", "0", "--net_decay", "--embed_last", "1000", "--syn_ce",
            "--ce_weight", str(config["ce_weight"]), "--train_net_num", str(config["train_net_num"]),
            "--net_generate_interval", str(config["push_interval"]), "--model_train_steps", str(config["model_train_steps"]),
            "--net_num", str(config["n_max"]), "--fetch_net_num", str(config["fetch_net_num"])]


def _idc(config, real, ipc, iterations):
    # snu-mllab/Efficient-Dataset-Condensation misc/reproduce.py + argument.py, with our config's values; --test skips
    # its in-loop evaluations, --init mix is our mixed initialisation. One timed iteration = one `ot` step.
    return ["--dataset", real.name, "--net_type", "convnet", "--depth", "3", "--ipc", str(ipc),
            "--factor", str(config["factor"]), "--init", "mix", "--metric", config["metric"], "--lr_img", str(config["lr_img"]),
            "--mom_img", str(config["mom_img"]), "--n_data", str(config["n_data"]), "--batch_real", str(config["batch_real"]),
            "--batch_syn_max", str(config["batch_syn_max"]), "--inner_loop", str(config["inner_loop"]),
            "--aug_type", config["aug_type"], "--lr", str(config["lr_net"]), "--weight-decay", str(config["wd_net"]),
            "--niter", "2000", "--test", "--data_dir", "unused"]


OFFICIAL = {
    "dm": Official("vico", "DatasetCondensation", "main_DM.py", ("cifar10", "mnist"), _dm),
    "dsa": Official("vico", "DatasetCondensation", "main.py", ("cifar10", "mnist"), _gradient_matching("dsa")),
    "dc": Official("vico", "DatasetCondensation", "main.py", ("cifar10", "mnist"), _gradient_matching("dc")),
    "idm": Official("idm", "IDM", "IDM_cifar10.py", ("cifar10",), _idm),
    "idc": Official("idc", "Efficient-Dataset-Condensation", "condense.py", ("cifar10", "mnist"), _idc, stops_itself=False),
}
DEFAULT_ITERATIONS = {"dm": 6, "idm": 6, "dsa": 3, "dc": 3, "idc": 6}


def per_iteration(stamps: list[float], starts: bool) -> float:
    """Mean seconds per iteration from iteration-boundary stamps, the first (warm-up) iteration never counted.

    ``starts``: stamps mark iteration starts (the first gap is iteration 0, dropped); else ends (the
    first stamp closes iteration 0, so every gap counts).
    """
    gaps = [b - a for a, b in zip(stamps, stamps[1:])][1 if starts else 0:]
    if not gaps:
        raise RuntimeError("too few iterations were stamped; raise --iterations")
    return statistics.fmean(gaps)


def time_ours(dataset: str, method: str, ipc: int, iterations: int, real, out: str, real_precision: str,
              train_precision: str, train_compilation: str, match_compilation: str, device: str = "cpu") -> float:
    stamps: list[float] = []
    build(dataset, method, ipc, out=out, settings=RunSettings(real_precision=real_precision, device=device, train_precision=train_precision, train_compilation=train_compilation, match_compilation=match_compilation), source=real, iterations=iterations, progress=False, on_iteration=lambda it, loss: stamps.append(time.perf_counter()))
    return per_iteration(stamps, starts=False)


def official_environment(allocator: str = "default", device: str = "cpu") -> dict[str, str]:
    """This process's environment for an official script: our package importable, glibc's ``MALLOC_*``
    variables replaced by the ``allocator`` setting (a key of `OFFICIAL_ALLOCATORS`), no CUDA device visible
    unless ``device`` is ``cuda`` (the scripts take CUDA whenever they see it)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE.parent), os.environ.get("PYTHONPATH")]))
    if device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""
    return {**env, **OFFICIAL_ALLOCATORS[allocator]}


def run_official(spec: Official, official_dir: Path, real: RealData, argv: list[str], data_root: Path,
                 scratch: Path, stop_after: int | None = None, skip_evaluation: bool = False,
                 allocator: str = "default", device: str = "cpu") -> list[float]:
    """Run the official script with ``argv`` in ``scratch`` (where it writes its results); its iteration stamps.

    ``skip_evaluation``: the script's in-loop evaluations become no-ops (`_official.py --skip-evaluation`).
    ``allocator``: its glibc allocator setting (`official_environment`)."""
    stamps_path = scratch / "stamps.json"
    stop = ["--stop-after", str(stop_after)] if stop_after is not None else []
    skip = ["--skip-evaluation"] if skip_evaluation else []
    command = [sys.executable, str(HERE / "_official.py"), spec.family, str(official_dir / spec.repo), spec.script,
               real.name, str(data_root), str(stamps_path), *stop, *skip, "--", *argv]
    done = subprocess.run(command, cwd=scratch, env=official_environment(allocator, device), capture_output=True, text=True)
    if done.returncode != 0 or not stamps_path.exists():
        raise RuntimeError(f"official {spec.script} failed:\n{done.stderr[-3000:]}")
    return json.loads(stamps_path.read_text())


def time_official(spec: Official, official_dir: Path, real: RealData, method: str, ipc: int, iterations: int,
                  config: dict[str, Any], data_root: Path, allocator: str, device: str = "cpu") -> float:
    with tempfile.TemporaryDirectory() as scratch:
        stop_after = None if spec.stops_itself else iterations + 1  # as many loop starts as `--Iteration n` makes
        stamps = run_official(spec, official_dir, real, spec.args(config, real, ipc, iterations), data_root, Path(scratch),
                              stop_after, allocator=allocator, device=device)
        return per_iteration(stamps, starts=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--official-dir", required=True, type=lambda p: Path(p).resolve())
    parser.add_argument("--data-root")
    parser.add_argument("--datasets", default="cifar10,mnist")
    parser.add_argument("--methods", default="dm,dsa,dc,idm,idc")
    parser.add_argument("--ipc", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--iterations", default="", help="per method, e.g. dm=6,dc=3 (timed: all but the first)")
    parser.add_argument("--real-precision", default="auto", help="ours: dtype of the real-image passes (auto|bf16|fp32)")
    parser.add_argument("--train-precision", default="auto", help="ours: arithmetic of the recipes' network training (auto|bf16|fp32)")
    parser.add_argument("--train-compile", default="on",
                        help="ours: torch.compile of the recipes' network training (auto|on|off). Default on: what auto picks "
                             "at the published budgets, which this benchmark's few iterations are below (compilation "
                             "happens in the first, untimed iteration)")
    parser.add_argument("--match-compile", default="on",
                        help="ours: torch.compile of the gradient-matching passes of DC, DSA and IDC (auto|on|off). Default on, "
                             "as --train-compile")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="where both sides run")
    parser.add_argument("--official-allocator", default="default", choices=list(OFFICIAL_ALLOCATORS),
                        help="glibc allocator of the authors' scripts: their default, or ours (keep-freed)")
    args = parser.parse_args()
    iterations = {**DEFAULT_ITERATIONS, **{k: int(v) for k, v in (p.split("=") for p in args.iterations.split(",") if p)}}
    root = real_data_root(args.data_root)
    out = tempfile.mkdtemp()
    print(f"IPC {args.ipc}, published configs, {args.device.upper()}, real precision {args.real_precision}, train precision {args.train_precision}, "
          f"train compile {args.train_compile}, match compile {args.match_compile}, official allocator {args.official_allocator}; median of {args.repeats} "
          "interleaved runs (ours, official, ...), first iteration of each run excluded")
    print("| dataset | method | iterations timed | ours s/it | official s/it | official / ours |")
    print("|---|---|---|---|---|---|")
    for dataset in args.datasets.split(","):
        real = load_source(dataset, root)
        for method in args.methods.split(","):
            spec = OFFICIAL[method]
            if dataset not in spec.datasets:
                continue
            config = get_method(method).config(dataset, args.ipc, {})
            n = iterations[method]
            ours, theirs = [], []
            try:
                for _ in range(args.repeats):
                    ours.append(time_ours(dataset, method, args.ipc, n, real, out, args.real_precision,
                                          args.train_precision, args.train_compile, args.match_compile, args.device))
                    theirs.append(time_official(spec, args.official_dir, real, method, args.ipc, n, config, root,
                                                args.official_allocator, args.device))
            except Exception as err:  # one method failing must not cost the others' rows
                line = " ".join(str(err).split())[-300:]
                print(f"| {dataset} | {method} | failed | {type(err).__name__}: {line} | | |", flush=True)
                continue
            o, t = median(ours), median(theirs)
            print(f"| {dataset} | {method} | {n - 1} x {args.repeats} | {o:.2f} | {t:.2f} | {t / o:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
