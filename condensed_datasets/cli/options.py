"""Options several ``condensed`` commands share, defined once (the single-set commands and the collection's)."""

from __future__ import annotations

import click

from condensed_datasets.condense.frame import MAX_SEED
from condensed_datasets.training.compilation import COMPILATION
from condensed_datasets.training.precision import PRECISIONS

data_root_option = click.option("--data-root", type=click.Path(file_okay=False), default=None,
                                help="Where real datasets live (default: $CONDENSED_DATA_ROOT, else ~/.cache/condensed-datasets/data).")
device_option = click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True, help="Where to compute.")
seed_option = click.option("--seed", type=click.IntRange(0, MAX_SEED), default=0, show_default=True,
                           help="Seed for every random draw (0 to 2**63 - 1).")


def _auto_choice_option(*names: str, choices: tuple[str, ...], help_text: str):
    """An option among ``choices`` whose default is ``auto`` (the lever on where it was measured to win)."""
    return click.option(*names, type=click.Choice(choices), default="auto", show_default=True, help=help_text)


real_precision_option = _auto_choice_option(
    "--real-precision", choices=PRECISIONS,
    help_text="Precision of DM's and IDM's embeddings of real images; auto picks bf16 on a CPU with AVX512-BF16 and "
              "fp32 elsewhere (see docs/performance.md).")
train_precision_option = _auto_choice_option(
    "--train-precision", choices=PRECISIONS,
    help_text="Precision of a recipe's network training (IDC's and IDM's steps on real batches, the inner loop of DC, "
              "DSA and DCMG); auto picks bf16 autocast on a CPU with AVX512-BF16 and fp32 elsewhere (see docs/performance.md).")
train_compilation_option = _auto_choice_option(
    "--train-compile", "train_compilation", choices=COMPILATION,
    help_text="Run a recipe's network training through torch.compile; auto compiles on a CPU with a C++ compiler when "
              "the run trains at least 1e8 image-pixels (every published budget, not the digits demo), never on CUDA "
              "(see docs/performance.md).")
match_compilation_option = _auto_choice_option(
    "--match-compile", "match_compilation", choices=COMPILATION,
    help_text="Run the gradient-matching passes of DC, DSA and IDC as one compiled torch.func function; auto compiles "
              "on a CPU with a C++ compiler when the run's matching reaches 1e8 image-pixels, never with batch norm, "
              "DCMG's inter-class term or CUDA (see docs/performance.md).")
eval_precision_option = _auto_choice_option(
    "--precision", "eval_precision", choices=PRECISIONS,
    help_text="Precision of the evaluation networks (bf16: autocast forwards, float32 weights and loss); auto picks bf16 "
              "on a CPU with AVX512-BF16 and fp32 elsewhere (see docs/performance.md).")
eval_compilation_option = _auto_choice_option(
    "--compile", "compilation", choices=COMPILATION,
    help_text="Run the evaluation networks through torch.compile; auto compiles on a CPU with a C++ compiler when the "
              "evaluation trains at least 1e8 image-pixels (a full CIFAR or MNIST protocol, not the digits demo), never "
              "on CUDA (see docs/performance.md).")
