"""Options several ``condensed`` commands share, defined once (the single-set commands and the collection's)."""

from __future__ import annotations

import click

from .compilation import COMPILATION
from .engine import MAX_SEED
from .precision import PRECISIONS

data_root_option = click.option("--data-root", type=click.Path(file_okay=False), default=None,
                                help="Where real datasets live (default: $CONDENSED_DATA_ROOT, else ~/.cache/condensed-datasets/data).")
device_option = click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True, help="Where to compute.")
seed_option = click.option("--seed", type=click.IntRange(0, MAX_SEED), default=0, show_default=True,
                           help="Seed for every random draw (0 to 2**63 - 1).")


def _auto_choice_option(*names: str, choices: tuple[str, ...], help_text: str):
    """An option among ``choices`` whose default is ``auto`` (the lever on where it was measured to win)."""
    return click.option(*names, type=click.Choice(choices), default="auto", show_default=True, help=help_text)


# Said once for the three precision options: the measured cost of forcing bf16 where auto would not pick it.
WITHOUT_NATIVE_BF16 = (" bf16 on a CPU without AVX512-BF16 falls back to slow reference convolutions (an evaluation 17x slower "
                       "than fp32 on an AVX2-only EPYC): leave auto there.")
real_precision_option = _auto_choice_option(
    "--real-precision", choices=PRECISIONS,
    help_text="dtype of DM's and IDM's embeddings of real images (targets, no gradient). auto: bf16 on a CPU with AVX512-BF16 (measured on a 2-core AVX512-BF16 CPU, CIFAR-10 IPC 10: "
         "DM 100 iterations 270 -> 153 s, accuracy 42.79 +- 0.56 vs 42.90 +- 0.57 %: benchmarks/precision_fidelity.py), "
         "fp32 elsewhere." + WITHOUT_NATIVE_BF16)
train_precision_option = _auto_choice_option(
    "--train-precision", choices=PRECISIONS,
    help_text="Arithmetic of a recipe's network training (IDC's network update and IDM's queue models' steps on real "
         "batches; the inner loop of DC, DSA and DCMG): fp32 (the papers') or bf16 autocast (float32 weights and loss). auto: bf16 on a CPU with AVX512-BF16 "
         "(measured on a 2-core AVX512-BF16 CPU, CIFAR-10 IPC 10: IDC 9.28 -> 7.61 s per iteration, DSA's 50-epoch inner "
         "loop 11.0 -> 8.4 s; no gain on 8x8 digits; accuracy within noise: IDC-I 40.59 +- 0.62 vs 40.40 +- 0.50 %, "
         "DC digits IPC 10 over 2 seeds 90.2 vs 90.9 %: benchmarks/precision_fidelity.py --levers train), fp32 elsewhere."
         + WITHOUT_NATIVE_BF16)
train_compilation_option = _auto_choice_option(
    "--train-compile", "train_compilation", choices=COMPILATION,
    help_text="Run a recipe's network training (IDC's network update and IDM's queue models' steps on real batches; "
         "the inner loop of DC, DSA and DCMG) through torch.compile (the gradient-matching passes: --match-compile). Measured on a 2-core "
         "AVX512-BF16 CPU with bf16 training, IDC CIFAR-10 IPC 10: 5.03 -> 4.27 s per iteration (fp32 5.74; benchmarks/recipe_speed.py); one bf16 step of a "
         "ConvNet on 100 CIFAR images 144 -> 81 ms; accuracy IDC-I 36.32 +- 0.54 vs 36.39 +- 0.69 %: "
         "benchmarks/precision_fidelity.py --levers train-compile). auto: on for a CPU with a C++ compiler and a run whose network training is long enough (about 1000 CIFAR "
         "steps of 100 images or more: every published budget, never the 8x8 digits demo), off on CUDA (not measured).")
match_compilation_option = _auto_choice_option(
    "--match-compile", "match_compilation", choices=COMPILATION,
    help_text="Run the gradient-matching passes of DC, DSA and IDC (each class's real gradient, synthetic gradient and "
         "the double backward to the images) as one torch.func function through torch.compile, float32. Measured on a "
         "2-core Xeon with AMX, IDC MNIST IPC 10: 4.08 -> 3.21 s per iteration (one class 357 -> 280 ms), image gradient "
         "equal to 5e-4; accuracy IDC MNIST 96.85 +- 0.15 vs 96.86 +- 0.14 %, DC MNIST IPC 1 88.46 +- 0.53 vs "
         "88.33 +- 0.91 % (benchmarks/precision_fidelity.py --levers match-compile). auto: on "
         "for a CPU with a C++ compiler and a run whose matching is long enough (every published budget, never the "
         "tests); never with batch norm or DCMG's inter-class term (eager there), off on CUDA (not measured).")
eval_precision_option = _auto_choice_option(
    "--precision", "eval_precision", choices=PRECISIONS,
    help_text="Arithmetic of the evaluation networks: fp32 (the papers') or bf16 (bf16 autocast forwards, float32 weights "
         "and loss, bf16 test passes). auto: bf16 on a CPU with AVX512-BF16 (measured on a 2-core AVX512-BF16 CPU, "
         "10 ConvNets x 30 epochs on CIFAR-10 IPC 10: 398 s one after another in fp32 -> 230 s together in bf16, "
         "accuracy 25.1 vs 25.3 %; one DM set, 5 x 300 epochs: 43.00 +- 0.35 % in 519 s vs 43.03 +- 0.27 % in 321 s: "
         "benchmarks/eval_speed.py, benchmarks/precision_fidelity.py), fp32 elsewhere." + WITHOUT_NATIVE_BF16)
eval_compilation_option = _auto_choice_option(
    "--compile", "compilation", choices=COMPILATION,
    help_text="Run the evaluation networks through torch.compile (Inductor fuses norm, ReLU and pooling around oneDNN's "
         "convolutions; ~30 s of compilation per process). Measured on a 2-core AVX2 CPU, fp32, 10 ConvNets x 30 epochs "
         "on CIFAR-10 IPC 10: 685 -> 528 s (1.28x; 677 s one network after another), same accuracy (25.3 %); one DM set, "
         "5 x 300 epochs: 41.25 +- 0.22 % in 833 s vs 41.24 +- 0.17 % in 670 s: benchmarks/eval_speed.py, "
         "benchmarks/precision_fidelity.py --levers compile. auto: on for a CPU with a C++ compiler, fp32 networks and a long enough evaluation (about 1000 "
         "CIFAR steps of 100 images or more; never the 8x8 digits demo), fp32 or bf16 networks (bf16 on a 2-core AVX512-BF16 "
         "CPU, 10 ConvNets x 30 epochs: 140 s eager -> 113 s compiled, 25.3 % both), off on CUDA (not measured).")
