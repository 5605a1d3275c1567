"""Staging: built sets under OUT become the staged Hub trees under TO (what ``condensed push`` uploads), and an
unfinished set's checkpoint travels the same way, so that the next machine's ``collection build --staged`` continues it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Callable, Iterable

from condensed_datasets.condense.checkpoint import checkpoint_info
from condensed_datasets.core.files import check_folder, copy_atomically
from condensed_datasets.core.layout import (
    BUILD_FILENAME,
    CHECKPOINT_FILENAME,
    EVAL_CHECKPOINT_FILENAME,
    EVAL_FILENAME,
    PARQUET_FILENAME,
    PREVIEW_FILENAME,
    SET_FILENAME,
    set_dir,
    set_files,
)
from condensed_datasets.core.methods import method_paper
from condensed_datasets.pipeline.cards import write_card
from condensed_datasets.pipeline.collection import CollectionEntry
from condensed_datasets.pipeline.preview import write_viewer_export
from condensed_datasets.pipeline.status import status_rows
from condensed_datasets.training.eval_checkpoint import progress_summary


def stage(entries: Iterable[CollectionEntry], out: str | os.PathLike, to: str | os.PathLike,
          say: Callable[[str], None] = print) -> set[str]:
    """Copy every entry built at its full budget and evaluated from ``out`` into ``to`` and render the cards
    touched; stage an unfinished entry's checkpoint instead. Returns the datasets whose trees changed.

    Sets of methods that select real images (random, herding) are real images: only their ``eval.json`` is
    staged. An unfinished evaluation of a complete set stages its evaluation checkpoint (the networks done: no
    images). A staged checkpoint is removed once its set is staged complete.
    """
    entries = list(entries)
    rows = {r["set"]: r for r in status_rows(entries, check_folder(out))}
    touched = set()
    for entry in entries:
        row = rows[entry.key]
        source, target = set_dir(out, entry.dataset, entry.method, entry.ipc), set_dir(to, entry.dataset, entry.method, entry.ipc)
        if row["state"] != "complete, evaluated":
            checkpoint, evaluation = source / CHECKPOINT_FILENAME, progress_summary(source / EVAL_CHECKPOINT_FILENAME)
            if row["state"].split(",")[0] in ("checkpoint", "partial") and checkpoint.is_file():
                check_folder(target).mkdir(parents=True, exist_ok=True)
                copy_atomically(checkpoint, target / CHECKPOINT_FILENAME)
                say(f"staged    {entry.key:28s} checkpoint at iteration {checkpoint_info(checkpoint)['iteration']} "
                    f"-> {target / CHECKPOINT_FILENAME}")
            elif row["state"].split(",")[0] == "complete" and evaluation is not None:
                check_folder(target).mkdir(parents=True, exist_ok=True)
                copy_atomically(source / EVAL_CHECKPOINT_FILENAME, target / EVAL_CHECKPOINT_FILENAME)
                say(f"staged    {entry.key:28s} evaluation checkpoint after {evaluation['done']} network(s) "
                    f"-> {target / EVAL_CHECKPOINT_FILENAME}")
            else:
                say(f"skipped   {entry.key:28s} {row['state']}")
            continue
        check_folder(target).mkdir(parents=True, exist_ok=True)
        for name in (CHECKPOINT_FILENAME, EVAL_CHECKPOINT_FILENAME):  # finished: its staged checkpoints have served
            (target / name).unlink(missing_ok=True)
        shutil.copy2(source / EVAL_FILENAME, target / EVAL_FILENAME)
        if not method_paper(entry.method).real_images:
            for name in (SET_FILENAME, PREVIEW_FILENAME, BUILD_FILENAME):
                if name != BUILD_FILENAME or (source / name).is_file():  # sets built before build.json existed have none
                    shutil.copy2(source / name, target / name)
            write_viewer_export(target / SET_FILENAME, target / PARQUET_FILENAME)
        touched.add(entry.dataset)
        say(f"staged    {entry.key:28s} -> {target}")
    for dataset in sorted(touched):
        if set_files(Path(to) / dataset):
            say(f"card      {write_card(Path(to) / dataset)}")
    return touched


def adopt_staged_checkpoint(staged: str | os.PathLike | None, out: str | os.PathLike, entry: CollectionEntry,
                            name: str = CHECKPOINT_FILENAME) -> bool:
    """Copy the checkpoint ``name`` (the build's, or the evaluation's) an earlier machine staged for ``entry``
    (``STAGED/<dataset>/<method>/ipc<N>/``) into the output folder when that has none, so the run continues it;
    whether one was copied."""
    source = staged_checkpoint(staged, out, entry, name)
    if source is None:
        return False
    target = set_dir(out, entry.dataset, entry.method, entry.ipc) / name
    target.parent.mkdir(parents=True, exist_ok=True)
    copy_atomically(source, target)
    return True


def staged_checkpoint(staged: str | os.PathLike | None, out: str | os.PathLike, entry: CollectionEntry,
                      name: str = CHECKPOINT_FILENAME) -> Path | None:
    """The checkpoint ``name`` staged for ``entry`` under ``staged`` that a run into ``out`` would continue (``out``
    has none of its own), else ``None``."""
    if not staged:
        return None
    source = set_dir(staged, entry.dataset, entry.method, entry.ipc) / name
    target = set_dir(out, entry.dataset, entry.method, entry.ipc) / name
    if not source.is_file() or target.exists() or source.resolve() == target.resolve():
        return None
    return source
