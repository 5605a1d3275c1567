"""``condensed collection build | status | stage``: the whole collection as one resumable command."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import click

from condensed_datasets.cli.errors import user_errors
from condensed_datasets.cli.options import (
    data_root_option,
    run_settings_options,
)
from condensed_datasets.condense.checkpoint import checkpoint_info
from condensed_datasets.condense.settings import RunSettings
from condensed_datasets.core.errors import RunStopped
from condensed_datasets.core.files import atomic_path, check_folder
from condensed_datasets.core.layout import (
    BUILD_FILENAME,
    CHECKPOINT_FILENAME,
    EVAL_FILENAME,
    PARQUET_FILENAME,
    PREVIEW_FILENAME,
    SET_FILENAME,
    set_dir,
)
from condensed_datasets.core.methods import method_paper
from condensed_datasets.pipeline.collection import select
from condensed_datasets.pipeline.jobs import (
    ENGINES,
    JobResult,
    jobs_for,
    refresh_cards,
    run_local,
    run_ray,
)
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
@click.option("--out", type=click.Path(file_okay=False), default="out", show_default=True, help="Root of the sets.")
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
@click.option("--staged", type=click.Path(file_okay=False), default=None,
              help="Staged tree (e.g. hub_cards) whose checkpoints of unfinished sets, staged by an earlier machine, are continued.")
@click.option("--nice", "niceness", type=click.IntRange(0, 19), default=0, show_default=True,
              help="Lower this process's CPU priority (19: only idle CPU), for a campaign in the background.")
@user_errors
def build_collection(selectors: tuple[str, ...], out: str, data_root: str | None, engine: str, address: str | None,
                     iterations: int | None, eval_models: int, eval_epochs: int | None, threads: int | None,
                     settings: RunSettings, together: str, staged: str | None, niceness: int) -> None:
    """Build, resume and evaluate every selected set that is missing or incomplete; re-render the cards touched."""
    entries = _selected(selectors)
    settings.check()
    check_folder(out)
    if niceness:
        os.nice(niceness)
    evaluation = EvalSettings(models=eval_models, epochs=eval_epochs, device=settings.device, seed=settings.seed,
                              together=together)
    jobs = jobs_for(entries, out=out, data_root=data_root, iterations=iterations, settings=settings,
                    evaluation=evaluation, threads=threads, staged=staged)
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
@click.option("--out", type=click.Path(file_okay=False), default="out", show_default=True, help="Root of the sets.")
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
@click.option("--out", type=click.Path(file_okay=False), default="out", show_default=True, help="Root of the built sets.")
@click.option("--to", "to", type=click.Path(file_okay=False), default="hub_cards", show_default=True,
              help="Root of the staged Hub repos: TO/<dataset>/ is what `condensed push` uploads.")
@user_errors
def stage(selectors: tuple[str, ...], out: str, to: str) -> None:
    """Copy every selected set that is built at its full budget and evaluated into TO/<dataset>/, and render its card.

    Sets of methods that select real images (random, herding) are real images: only their eval.json is staged.
    An unfinished set's checkpoint is staged beside its folder instead (TO/<dataset>/<method>/ipc<N>/checkpoint.safetensors),
    so that `collection build` on another machine continues it; it is removed once the set is staged complete."""
    from condensed_datasets.datasets import CondensedDataset
    from condensed_datasets.pipeline.cards import write_card

    entries = _selected(selectors)
    rows = {r["set"]: r for r in status_rows(entries, check_folder(out))}
    touched = set()
    for entry in entries:
        row = rows[entry.key]
        source, target = set_dir(out, entry.dataset, entry.method, entry.ipc), set_dir(to, entry.dataset, entry.method, entry.ipc)
        if row["state"] != "complete, evaluated":
            checkpoint = source / CHECKPOINT_FILENAME
            if row["state"].split(",")[0] in ("missing", "partial") and checkpoint.is_file():
                check_folder(target).mkdir(parents=True, exist_ok=True)
                with atomic_path(target / CHECKPOINT_FILENAME) as tmp:
                    shutil.copyfile(checkpoint, tmp)
                click.echo(f"staged    {entry.key:28s} checkpoint at iteration {checkpoint_info(checkpoint)['iteration']} "
                           f"-> {target / CHECKPOINT_FILENAME}")
            else:
                click.echo(f"skipped   {entry.key:28s} {row['state']}")
            continue
        check_folder(target).mkdir(parents=True, exist_ok=True)
        (target / CHECKPOINT_FILENAME).unlink(missing_ok=True)  # finished: its staged checkpoint has served
        shutil.copy2(source / EVAL_FILENAME, target / EVAL_FILENAME)
        if not method_paper(entry.method).real_images:
            for name in (SET_FILENAME, PREVIEW_FILENAME, BUILD_FILENAME):
                if name != BUILD_FILENAME or (source / name).is_file():  # sets built before build.json existed have none
                    shutil.copy2(source / name, target / name)
            CondensedDataset.from_file(target / SET_FILENAME).to_hf_dataset().to_parquet(str(target / PARQUET_FILENAME))
        touched.add(entry.dataset)
        click.echo(f"staged    {entry.key:28s} -> {target}")
    for dataset in sorted(touched):
        if any((Path(to) / dataset).glob(f"*/ipc*/{SET_FILENAME}")):
            click.echo(f"card      {write_card(Path(to) / dataset)}")


def _selected(selectors: tuple[str, ...]):
    return select(list(selectors))
