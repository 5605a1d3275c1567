"""The ``condensed`` command line: build and evaluate condensed sets.

Every choice (datasets, methods, networks, protocols) comes from a registry.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from condensed_datasets.cli.errors import user_errors
from condensed_datasets.cli.options import (
    DatasetType,
    NonEmptyPath,
    data_root_option,
    eval_settings_options,
    run_settings_options,
)
from condensed_datasets.condense.settings import RunSettings
from condensed_datasets.core.layout import SET_FILENAME, set_files
from condensed_datasets.core.version import __version__
from condensed_datasets.recipes import list_methods
from condensed_datasets.training.evaluate import EvalSettings
from condensed_datasets.training.sources import DataSource, list_sources


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
@click.option("--out", type=NonEmptyPath(file_okay=False), default="out", show_default=True,
              help="Output root; the set goes to OUT/<dataset>/<method>/ipc<N>/condensed.safetensors.")
@click.option("--iterations", type=click.IntRange(min=1), default=None, help="Shorten (or lengthen) the run: iterations of the method.")
@click.option("--download", is_flag=True, help="Let torchvision download the real dataset where it can.")
@click.option("--resume", is_flag=True, help="Continue from the checkpoint in the output folder.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override one hyperparameter of the recipe (VALUE parsed as JSON, else a string); repeatable.")
@click.option("--variant", default=None, help="Method variant where a method has several (dcmg: M, MD, MDA).")
@run_settings_options
@click.option("--eval", "run_eval", is_flag=True, help="Evaluate the set after building (method's protocol) and write eval.json beside it.")
@click.option("--eval-models", type=click.IntRange(min=1), default=5, show_default=True, help="With --eval: networks to train.")
@click.option("--eval-epochs", type=click.IntRange(min=1), default=None, help="With --eval: override the protocol's epochs.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@user_errors
def build(dataset: str, method: str, ipc: int, data_root: str | None, out: str, iterations: int | None, download: bool,
          resume: bool, overrides: tuple[str, ...], variant: str | None, settings: RunSettings, run_eval: bool,
          eval_models: int, eval_epochs: int | None, quiet: bool) -> None:
    """Condense a dataset and write the set (help text above, built from the registry)."""
    from condensed_datasets.core.layout import CHECKPOINT_FILENAME, set_dir
    from condensed_datasets.pipeline.build import build as run_build

    checkpoint = set_dir(out, dataset, method, ipc) / CHECKPOINT_FILENAME
    if resume and not checkpoint.is_file():
        click.echo(f"--resume: no checkpoint at {checkpoint}; starting from iteration 0", err=True)
    source = DataSource(data_root, download)
    path = run_build(dataset, method, ipc, out=out, settings=settings, iterations=iterations, source=source,
                     overrides={**parse_overrides(overrides), **({"variant": variant} if variant else {})},
                     resume=resume, progress=not quiet)
    if run_eval:
        evaluation = EvalSettings(models=eval_models, epochs=eval_epochs, device=settings.device, seed=settings.seed)
        _evaluate_and_record(path, source, evaluation, quiet)
    click.echo(str(path))


def _evaluate_and_record(path: str | Path, source: DataSource, settings: EvalSettings, quiet: bool) -> dict[str, Any]:
    """Evaluate the set at ``path`` and append the result to its ``eval.json``."""
    from condensed_datasets.core.evaluations import record_evaluation
    from condensed_datasets.core.storage import load
    from condensed_datasets.training.devices import check_device
    from condensed_datasets.training.evaluate import evaluate

    check_device(settings.device)
    cset = load(path)
    result = evaluate(cset, source.load(cset.dataset), settings, progress=not quiet)
    return record_evaluation(path, result)


@main.command(name="eval")
@click.argument("path", type=NonEmptyPath(dir_okay=False))
@data_root_option
@eval_settings_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@user_errors
def eval_(path: str, data_root: str | None, settings: EvalSettings, as_json: bool, quiet: bool) -> None:
    """Train fresh networks on the set at PATH and test them on the real test split.

    The result is printed and appended to eval.json beside the set (what its card reports)."""
    result = _evaluate_and_record(path, DataSource(data_root), settings, quiet)
    if as_json:
        click.echo(json.dumps({**result, "path": str(path)}))
    else:
        click.echo(f"{result['dataset']} {result['method']} ipc{result['ipc']}: {result['mean']:.2f} ± {result['std']:.2f} % "
                   f"({result['models']} x {result['arch']}, protocol {result['protocol']}, {result['epochs']} epochs, {result['seconds']} s)")


@main.command()
@click.argument("root", type=click.Path(exists=True, file_okay=False))
@click.option("--repo", default=None, help="The Hub repo the card is for (default: the default org's condensed-<dataset>).")
@user_errors
def card(root: str, repo: str | None) -> None:
    """Render the dataset card (README.md) of ROOT/<dataset>/ from its sets; prints its path.

    ROOT may be one dataset folder or a root holding several (one card each)."""
    from condensed_datasets.hub.pins import check_repo_id
    from condensed_datasets.pipeline.cards import dataset_folders, write_card

    if repo is not None:
        check_repo_id(repo)
    folders = dataset_folders(root)
    if not folders:
        raise click.ClickException(f"no condensed sets under {root}")
    for folder in folders:
        click.echo(str(write_card(folder, repo)))


@main.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--out", required=True, type=NonEmptyPath(dir_okay=False, suffix=".png"), help="PNG file to write (.png).")
@click.option("--per-class", type=click.IntRange(min=1), default=20, show_default=True, help="Images per row.")
@click.option("--decoded", is_flag=True, help="Show the decoded training images instead of the stored ones.")
@user_errors
def show(path: str, out: str, per_class: int, decoded: bool) -> None:
    """Write a class-by-row image grid (de-normalised) of the set at PATH."""
    from condensed_datasets.core.storage import load
    from condensed_datasets.pipeline.preview import write_preview

    click.echo(str(write_preview(load(path), out, per_class, decoded)))


@main.command(name="list")
@click.option("--root", type=NonEmptyPath(file_okay=False), default="out", show_default=True, help="Where local sets live.")
@click.option("--dataset", default=None, help="Only this dataset.")
@click.option("--remote", is_flag=True, help="Also list what the registry offers on the Hub.")
@user_errors
def list_(root: str, dataset: str | None, remote: bool) -> None:
    """List local sets (ROOT/<dataset>/<method>/ipc<N>) and, with --remote, published ones."""

    from condensed_datasets.core.evaluations import set_headline, summary
    from condensed_datasets.hub.pins import list_sets

    if not Path(root).is_dir():
        raise click.ClickException(f"--root {root} is not a folder (sets live in ROOT/<dataset>/<method>/ipc<N>/)")
    for path in set_files(root, "*/*/ipc*"):
        name, method, ipc = path.parts[-4], path.parts[-3], path.parts[-2]
        if dataset and name != dataset:
            continue
        acc = summary(*set_headline(path.parent))
        click.echo(f"local   {name}/{method}/{ipc}  {acc}  {path}")
    if remote:
        for entry in list_sets(dataset):
            acc = f"{entry.accuracy['mean']:.2f} %" if entry.accuracy else "-"
            click.echo(f"remote  {entry.spec}  {acc}  {entry.repo_id}@{entry.revision[:12]}")


@main.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@user_errors
def info(path: str) -> None:
    """Print the metadata of the set at PATH (JSON) and its headline evaluation, after checking its tensor bytes
    against the header's checksum."""

    from condensed_datasets.core.evaluations import NOT_AT_PROTOCOL, label, set_headline
    from condensed_datasets.core.files import sha256_file
    from condensed_datasets.core.storage import load, read_document

    load(path)  # a corrupted or inconsistent file is refused, not described
    document = read_document(path)
    evaluation, records = set_headline(Path(path).parent) if Path(path).name == SET_FILENAME else (None, [])
    click.echo(json.dumps({**document, "sha256": sha256_file(path), "evaluation": evaluation or NOT_AT_PROTOCOL,
                           "evaluations": [label(r) for r in records]}, indent=2, sort_keys=True))


@main.command()
@click.argument("path", type=click.Path(exists=True))
@click.option("--repo", required=True, help="Target dataset repo, ORG/NAME.")
@click.option("--revision", default=None, help="Branch to commit to (default: main).")
@click.option("--private", is_flag=True, help="Create the repo as private.")
@click.option("--registry", type=NonEmptyPath(dir_okay=False), default=None,
              help="Registry JSON to record the commit and sha256 pins in (default: $CONDENSED_REGISTRY).")
@user_errors
def push(path: str, repo: str, revision: str | None, private: bool, registry: str | None) -> None:
    """Upload sets, previews, a parquet viewer export and the card to a Hub dataset repo in one commit.

    PATH is a dataset folder ROOT/<dataset>, a root holding one, or a single set file. The token
    comes from huggingface_hub's usual sources (HF_TOKEN or `hf auth login`)."""
    from condensed_datasets.pipeline.push import push as run_push

    result = run_push(path, repo, revision=revision, private=private, registry=registry)
    click.echo(f"pushed {len(result.sets)} set(s) to {result.repo_id} in commit {result.commit}")
    click.echo(result.url)


def _add_collection() -> None:
    from condensed_datasets.cli.collection import collection

    main.add_command(collection)


_add_collection()


@main.command()
@click.argument("path", type=click.Path(exists=True))
@click.option("--repo", required=True, help="The dataset repo the sets were pushed to, ORG/NAME.")
@click.option("--commit", required=True, help="The commit id that holds them.")
@click.option("--registry", required=True, type=NonEmptyPath(dir_okay=False), help="Registry JSON to record the pins in.")
@user_errors
def pin(path: str, repo: str, commit: str, registry: str) -> None:
    """Record the commit and sha256 pins of the local sets at PATH, as pushed in COMMIT of REPO (after a push whose
    registry write failed)."""
    from condensed_datasets.hub.pins import check_registry
    from condensed_datasets.pipeline.push import pins_of, record_pins

    check_registry(registry)
    pinned = pins_of(path, repo, commit)
    record_pins(pinned, registry)
    click.echo(f"recorded {len(pinned)} pin(s) of {repo}@{commit[:12]} in {registry}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())