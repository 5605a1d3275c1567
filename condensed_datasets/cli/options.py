"""Options several ``condensed`` commands share, defined once (the single-set commands and the collection's),
and the option groups that become one settings object (`run_settings_options`)."""

from __future__ import annotations

import functools
import math
from dataclasses import fields
from typing import Any

import click

from condensed_datasets.condense.settings import MAX_SEED, RunSettings
from condensed_datasets.core.errors import UnknownNameError
from condensed_datasets.training.compilation import COMPILATION
from condensed_datasets.training.evaluate import (
    TOGETHER_MODES,
    EvalSettings,
    list_protocols,
)
from condensed_datasets.training.nets import list_networks
from condensed_datasets.training.precision import PRECISIONS
from condensed_datasets.training.sources import get_source


class DatasetType(click.ParamType):
    """A registered dataset name or ``imagefolder:PATH``."""

    name = "dataset"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        try:
            get_source(value)
        except UnknownNameError as err:
            self.fail(str(err), param, ctx)
        return value


class FiniteFloatRange(click.FloatRange):
    """A `click.FloatRange` that also refuses NaN and infinities (``--checkpoint-minutes nan``)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


class NonEmptyPath(click.Path):
    """A `click.Path` that refuses the empty path (``--out ''`` would mean the current folder by accident);
    with ``suffix``, the file name must end in it (``show --out x.jpg`` would write PNG bytes under .jpg)."""

    def __init__(self, *args: Any, suffix: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.suffix = suffix

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and not value.strip():
            self.fail(f"{value!r} is an empty path", param, ctx)
        if self.suffix and isinstance(value, str) and not value.lower().endswith(self.suffix):
            shown = value if len(value) <= 200 else value[:200] + "..."
            self.fail(f"{shown!r} must end in {self.suffix} (only {self.suffix[1:].upper()} is written)", param, ctx)
        return super().convert(value, param, ctx)


data_root_option = click.option("--data-root", type=NonEmptyPath(file_okay=False), default=None,
                                help="Where real datasets live (default: $CONDENSED_DATA_ROOT, else ~/.cache/condensed-datasets/data).")
device_option = click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True, help="Where to compute.")
seed_option = click.option("--seed", type=click.IntRange(0, MAX_SEED), default=0, show_default=True,
                           help="Seed for every random draw (0 to 2**63 - 1).")


def _auto_choice_option(*names: str, choices: tuple[str, ...], help_text: str):
    """An option among ``choices`` whose default is ``auto`` (the lever on where it was measured to win)."""
    return click.option(*names, type=click.Choice(choices), default="auto", show_default=True, help=help_text)


real_precision_option = _auto_choice_option(
    "--real-precision", choices=PRECISIONS,
    help_text="Precision of DM's and IDM's real-image embeddings (auto: bf16 on CPUs with AVX512-BF16; see docs/performance.md).")
train_precision_option = _auto_choice_option(
    "--train-precision", choices=PRECISIONS,
    help_text="Precision of a recipe's network training (auto: bf16 on CPUs with AVX512-BF16; see docs/performance.md).")
train_compilation_option = _auto_choice_option(
    "--train-compile", "train_compilation", choices=COMPILATION,
    help_text="Run a recipe's network training through torch.compile (auto: where it pays off; see docs/performance.md).")
match_compilation_option = _auto_choice_option(
    "--match-compile", "match_compilation", choices=COMPILATION,
    help_text="Run the gradient-matching passes compiled (auto: where it pays off; see docs/performance.md).")
eval_precision_option = _auto_choice_option(
    "--precision", "eval_precision", choices=PRECISIONS,
    help_text="Precision of the evaluation networks (auto: bf16 on CPUs with AVX512-BF16; see docs/performance.md).")
eval_compilation_option = _auto_choice_option(
    "--compile", "compilation", choices=COMPILATION,
    help_text="Run the evaluation networks through torch.compile (auto: where it pays off; see docs/performance.md).")
checkpoint_minutes_option = click.option("--checkpoint-minutes", type=FiniteFloatRange(min=0), default=5.0, show_default=True,
                                         help="Write a checkpoint this often (and always at the end).")
amp_option = click.option("--amp", is_flag=True, help="bfloat16 autocast on CUDA where the recipe supports it.")

RUN_SETTINGS_OPTIONS = (device_option, seed_option, checkpoint_minutes_option, amp_option, real_precision_option,
                        train_precision_option, train_compilation_option, match_compilation_option)


def _settings_options(settings_class: type, options: tuple, renamed: dict[str, str] | None = None):
    """A decorator giving a command ``options`` and handing it one ``settings_class`` object, ``settings``, built from
    them (``renamed``: an option's name where it differs from the field's)."""
    renamed = renamed or {}
    names = {f.name for f in fields(settings_class)}

    def decorate(command):
        @functools.wraps(command)
        def with_settings(*args: Any, **kwargs: Any) -> Any:
            values = {renamed.get(k, k): kwargs.pop(k) for k in list(kwargs) if renamed.get(k, k) in names}
            return command(*args, settings=settings_class(**values), **kwargs)

        for option in reversed(options):
            with_settings = option(with_settings)
        return with_settings

    return decorate


run_settings_options = _settings_options(RunSettings, RUN_SETTINGS_OPTIONS)
run_settings_options.__doc__ = "Give a command the options of `RunSettings` and hand it one object, ``settings``."

EVAL_SETTINGS_OPTIONS = (
    click.option("--arch", type=click.Choice(list_networks()), default=None,
                 help="Network to train (default: the one the set was condensed with, as the papers evaluate)."),
    click.option("--models", type=click.IntRange(min=1), default=5, show_default=True, help="Networks trained (together) from scratch."),
    click.option("--epochs", type=click.IntRange(min=1), default=None, help="Override the protocol's epochs (recorded as reduced)."),
    click.option("--protocol", type=click.Choice(list_protocols()), default=None, help="Evaluation protocol (default: the set's)."),
    click.option("--together", type=click.Choice(TOGETHER_MODES), default="auto", show_default=True,
                 help="How the networks share the process (auto: vmap on CUDA, sequential on CPU; see docs/performance.md)."),
    eval_precision_option, eval_compilation_option, device_option, seed_option,
)


eval_settings_options = _settings_options(EvalSettings, EVAL_SETTINGS_OPTIONS, {"eval_precision": "precision"})
