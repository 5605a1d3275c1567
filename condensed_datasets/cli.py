"""The ``condensed`` command line: build and evaluate condensed sets.

Every choice (datasets, methods, networks, protocols) comes from a registry.
"""

from __future__ import annotations

import functools
import json
import sys
from typing import Any, Callable

import click

from . import __version__
from .checkpoint import NonFiniteLossError
from .evaluate import list_protocols
from .nets import list_networks
from .recipes import list_methods
from .registry import UnknownNameError
from .sources import DataNotFoundError, get_source, list_sources
from .storage import CondensedFormatError

USER_ERRORS = (ValueError, FileNotFoundError, DataNotFoundError, CondensedFormatError, UnknownNameError, NonFiniteLossError)


class DatasetType(click.ParamType):
    """A registered dataset name or ``imagefolder:PATH``."""

    name = "dataset"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        try:
            get_source(value)
        except UnknownNameError as err:
            self.fail(str(err), param, ctx)
        return value


def parse_overrides(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``("lr_img=0.5", "init=noise")`` -> ``{"lr_img": 0.5, "init": "noise"}``."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--set")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def user_errors(fn: Callable) -> Callable:
    """Turn the library's user-facing errors into a clean message and exit code 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except USER_ERRORS as err:
            raise click.ClickException(str(err)) from None

    return wrapper


data_root_option = click.option("--data-root", type=click.Path(file_okay=False), default=None,
                                help="Where real datasets live (default: $CONDENSED_DATA_ROOT, else ~/.cache/condensed-datasets/data).")
device_option = click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True, help="Where to compute.")
seed_option = click.option("--seed", type=int, default=0, show_default=True, help="Seed for every random draw.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="condensed")
def main() -> None:
    """Build, evaluate and inspect condensed (distilled) image datasets."""


@main.command(help="Condense DATASET with a method and write the set; prints the file's path.\n\nDATASET is one of: "
              + ", ".join(list_sources()) + ", or imagefolder:PATH.")
@click.argument("dataset", type=DatasetType())
@click.option("--method", required=True, type=click.Choice(list_methods()), help="Condensation method.")
@click.option("--ipc", required=True, type=int, help="Stored images per class (the storage budget).")
@data_root_option
@click.option("--out", type=click.Path(file_okay=False), default="out", show_default=True,
              help="Output root; the set goes to OUT/<dataset>/<method>/ipc<N>/condensed.safetensors.")
@click.option("--iterations", type=click.IntRange(min=1), default=None, help="Shorten (or lengthen) the run: iterations of the method.")
@device_option
@seed_option
@click.option("--download", is_flag=True, help="Let torchvision download the real dataset where it can.")
@click.option("--resume", is_flag=True, help="Continue from the checkpoint in the output folder.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override one hyperparameter of the recipe (VALUE parsed as JSON, else a string); repeatable.")
@click.option("--variant", default=None, help="Method variant where a method has several (dcmg: M, MD, MDA).")
@click.option("--checkpoint-minutes", type=click.FloatRange(min=0), default=5.0, show_default=True,
              help="Write a checkpoint this often (and always at the end).")
@click.option("--amp", is_flag=True, help="bfloat16 autocast on CUDA where the recipe supports it.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@user_errors
def build(dataset: str, method: str, ipc: int, data_root: str | None, out: str, iterations: int | None, device: str,
          seed: int, download: bool, resume: bool, overrides: tuple[str, ...], variant: str | None, checkpoint_minutes: float,
          amp: bool, quiet: bool) -> None:
    """Condense a dataset and write the set (help text above, built from the registry)."""
    from .build import build as run_build

    path = run_build(dataset, method, ipc, out=out, data_root=data_root, iterations=iterations, device=device,
                     seed=seed, download=download, progress=not quiet, resume=resume,
                     overrides={**parse_overrides(overrides), **({"variant": variant} if variant else {})},
                     checkpoint_minutes=checkpoint_minutes, amp=amp)
    click.echo(str(path))


@main.command(name="eval")
@click.argument("path", type=click.Path(dir_okay=False))
@data_root_option
@click.option("--arch", type=click.Choice(list_networks()), default="convnet", show_default=True, help="Network to train.")
@click.option("--models", type=click.IntRange(min=1), default=5, show_default=True, help="Networks trained (together) from scratch.")
@click.option("--epochs", type=click.IntRange(min=1), default=None, help="Override the protocol's epochs.")
@click.option("--protocol", type=click.Choice(list_protocols()), default=None, help="Evaluation protocol (default: the set's method's).")
@device_option
@seed_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@user_errors
def eval_(path: str, data_root: str | None, arch: str, models: int, epochs: int | None, protocol: str | None,
          device: str, seed: int, as_json: bool, quiet: bool) -> None:
    """Train fresh networks on the set at PATH and test them on the real test split."""
    from .build import check_device
    from .evaluate import evaluate
    from .sources import load_source
    from .storage import load

    check_device(device)
    cset = load(path)
    real = load_source(cset.dataset, data_root)
    kwargs = {"protocol": protocol} if protocol else {}
    result = evaluate(cset, real, arch=arch, models=models, epochs=epochs, device=device, seed=seed, progress=not quiet, **kwargs)
    result.update(method=cset.method, ipc=cset.ipc, path=str(path))
    if as_json:
        click.echo(json.dumps(result))
    else:
        click.echo(f"{cset.dataset} {cset.method} ipc{cset.ipc}: {result['mean']:.2f} ± {result['std']:.2f} % "
                   f"({result['models']} x {arch}, protocol {result['protocol']}, {result['epochs']} epochs, {result['seconds']} s)")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
