"""``condensed collection build | status | stage``: the whole collection as one resumable command."""

from __future__ import annotations

import sys

import click

from condensed_datasets.cli.errors import user_errors
from condensed_datasets.cli.options import (
    NonEmptyPath,
    data_root_option,
    run_settings_options,
)
from condensed_datasets.cli.priority import lower_priority
from condensed_datasets.condense.settings import RunSettings
from condensed_datasets.core.errors import RunStopped
from condensed_datasets.core.files import check_folder
from condensed_datasets.pipeline.collection import select
from condensed_datasets.pipeline.jobs import (
    ENGINES,
    JobResult,
    jobs_for,
    refresh_cards,
    run_local,
    run_ray,
)
from condensed_datasets.pipeline.stage import stage as run_stage
from condensed_datasets.pipeline.status import FORMATS, render_status, status_rows
from condensed_datasets.training.evaluate import TOGETHER_MODES, EvalSettings

SELECTORS_HELP = "SELECTOR: DATASET[/METHOD[/IPC]] with * wildcards ('cifar10/dm/*', '*/idc/10', 'digits'); none: all sets."


@click.group(help="Build, compare and stage the collection: every set the project publishes.\n\n" + SELECTORS_HELP)
def collection() -> None:
    """The collection commands."""


def _echo_result(result: JobResult) -> None:
    tail = f"{result.accuracy} %" if result.accuracy else (result.error or "")
    click.echo(f"{result.state:9s} {result.key:28s} {result.seconds:8.1f} s  {tail}", err=result.state == "failed")


@collection.command(name="build")
@click.argument("selectors", nargs=-1)
@click.option("--out", type=NonEmptyPath(file_okay=False), default="out", show_default=True, help="Root of the sets.")
@data_root_option
@click.option("--engine", type=click.Choice(ENGINES), default="local", show_default=True,
              help="local: one set after another in this process; ray: one Ray task per set (extra: condensed-datasets[ray]).")
@click.option("--address", default=None, help="With --engine ray: the cluster to join (default: start a local Ray).")
@click.option("--iterations", type=click.IntRange(min=1), default=None,
              help="Build every set to this many iterations instead of its published budget (a later run without it completes them).")
@click.option("--eval-models", type=click.IntRange(min=1), default=5, show_default=True, help="Networks per evaluation.")
@click.option("--eval-epochs", type=click.IntRange(min=1), default=None, help="Override the protocols' epochs (recorded as reduced).")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="CPU threads per set (default: torch's).")
@run_settings_options
@click.option("--together", type=click.Choice(TOGETHER_MODES), default="auto", show_default=True,
              help="How each evaluation trains its networks (as `condensed eval --together`).")
@click.option("--staged", type=NonEmptyPath(file_okay=False), default=None,
              help="Staged tree (e.g. hub_cards) whose checkpoints of unfinished sets, staged by an earlier machine, are continued.")
@click.option("--nice", "niceness", type=click.IntRange(0, 19), default=0, show_default=True,
              help="Lower this process's CPU priority (19: only idle CPU), for a campaign in the background.")
@user_errors
def build_collection(selectors: tuple[str, ...], out: str, data_root: str | None, engine: str, address: str | None,
                     iterations: int | None, eval_models: int, eval_epochs: int | None, threads: int | None,
                     settings: RunSettings, together: str, staged: str | None, niceness: int) -> None:
    """Build, resume and evaluate every selected set that is missing or incomplete, in the order named; re-render the cards touched."""
    entries = _selected(selectors, as_named=True)  # a queue: the sets build in the order they are named
    settings.check()
    check_folder(out)
    if niceness and (note := lower_priority(niceness)):
        click.echo(note, err=True)
    evaluation = EvalSettings(models=eval_models, epochs=eval_epochs, device=settings.device, seed=settings.seed,
                              together=together)
    jobs = jobs_for(entries, out=out, data_root=data_root, iterations=iterations, settings=settings,
                    evaluation=evaluation, threads=threads, staged=staged)
    for entry in entries:
        if entry.left_out:
            click.echo(f"left out  {entry.key}: {entry.left_out}")
    click.echo(f"{len(jobs)} set(s) selected; engine {engine}")
    try:
        results = run_ray(jobs, _echo_result, address) if engine == "ray" else run_local(jobs, _echo_result)
    except KeyboardInterrupt:
        click.echo("interrupted: finished sets are intact, the running one resumes on the next run", err=True)
        sys.exit(130)
    except RunStopped as err:  # SIGTERM: the running set stopped at an iteration boundary with its checkpoint
        click.echo(f"stopped   {err}; finished sets are intact, the same command continues", err=True)
        sys.exit(143)
    touched = {r.key.split("/")[0] for r in results if r.state != "failed"}
    for card in refresh_cards(out, touched):
        click.echo(f"card      {card}")
    failed = [r for r in results if r.state == "failed"]
    click.echo(f"{len(results) - len(failed)} done, {len(failed)} failed")
    if failed:
        sys.exit(1)


@collection.command()
@click.argument("selectors", nargs=-1)
@click.option("--out", type=NonEmptyPath(file_okay=False), default="out", show_default=True, help="Root of the sets.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("--built", is_flag=True, help="Only sets that exist under --out.")
@user_errors
def status(selectors: tuple[str, ...], out: str, fmt: str, built: bool) -> None:
    """Every selected set: iterations built / published budget, accuracy next to the paper's, the gap, sha256."""
    entries = _selected(selectors)
    check_folder(out)
    rows = status_rows(entries, out)
    click.echo(render_status([r for r in rows if r["state"] != "missing"] if built else rows, fmt))


@collection.command()
@click.argument("selectors", nargs=-1)
@click.option("--out", type=NonEmptyPath(file_okay=False), default="out", show_default=True, help="Root of the built sets.")
@click.option("--to", "to", type=NonEmptyPath(file_okay=False), default="hub_cards", show_default=True,
              help="Root of the staged Hub repos: TO/<dataset>/ is what `condensed push` uploads.")
@user_errors
def stage(selectors: tuple[str, ...], out: str, to: str) -> None:
    """Copy every selected set that is built at its full budget and evaluated into TO/<dataset>/, and render its card.

    Sets of methods that select real images (random, herding) are real images: only their eval.json is staged.
    An unfinished set's checkpoint is staged beside its folder instead (TO/<dataset>/<method>/ipc<N>/checkpoint.safetensors),
    so that `collection build` on another machine continues it; it is removed once the set is staged complete."""
    run_stage(_selected(selectors), out, to, say=click.echo)


def _selected(selectors: tuple[str, ...], *, as_named: bool = False):
    return select(list(selectors), as_named=as_named)
