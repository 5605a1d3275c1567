"""Building the collection: one set is one job (build or resume, evaluate, preview), run in-process or on Ray.

A job is idempotent: a set already at its target iterations with an evaluation of exactly that file
(same sha256, the method's protocol, enough models) is skipped; a set with a checkpoint is resumed
from it; anything else is built from scratch. Every file is written atomically and every build is
checkpointed, so a kill at any moment leaves finished sets intact and the running one resumable.
"""

from __future__ import annotations

import os
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from condensed_datasets.condense.settings import RunSettings
from condensed_datasets.core.errors import RunStopped
from condensed_datasets.core.layout import (
    CHECKPOINT_FILENAME,
    EVAL_CHECKPOINT_FILENAME,
    SET_FILENAME,
    set_dir,
)
from condensed_datasets.pipeline.collection import CollectionEntry
from condensed_datasets.pipeline.stage import adopt_staged_checkpoint
from condensed_datasets.training.evaluate import EvalSettings

ENGINES = ("local", "ray")


@dataclass(frozen=True)
class Job:
    """Everything one set's job needs (plain data: it travels to Ray workers)."""

    dataset: str
    method: str
    ipc: int
    out: str
    data_root: str | None = None
    iterations: int | None = None  # None: the published budget
    settings: RunSettings = RunSettings()  # how to build (device, seed, arithmetic, checkpoint interval)
    evaluation: EvalSettings = EvalSettings()  # how to evaluate (models; epochs None: the protocol's)
    threads: int | None = None  # CPU threads for torch in this job (None: torch's default)
    staged: str | None = None  # a staged tree (hub_cards) whose checkpoints of unfinished sets are resumed

    @property
    def key(self) -> str:
        return f"{self.dataset}/{self.method}/{self.ipc}"


@dataclass(frozen=True)
class JobResult:
    """What became of one set: ``built``, ``resumed``, ``evaluated`` (set kept, evaluation added), ``skipped`` or ``failed``."""

    key: str
    state: str
    seconds: float
    path: str | None = None
    accuracy: str | None = None
    error: str | None = None


def jobs_for(entries: Iterable[CollectionEntry], **options: Any) -> list[Job]:
    """One `Job` per selected entry the project publishes (none for a ``left_out`` entry), with the same options."""
    return [Job(e.dataset, e.method, e.ipc, **options) for e in entries if not e.left_out]


def _target_iterations(job: Job, entry: CollectionEntry) -> int | None:
    budget = entry.budget
    return None if budget is None else (job.iterations if job.iterations is not None else budget)


def _evaluation_of(folder: Path, sha256: str, job: Job, protocol: str) -> dict[str, Any] | None:
    """The recorded evaluation of exactly this file that satisfies the job, if any: its headline (`headline`),
    or with ``--eval-epochs`` the latest one at those epochs."""
    from condensed_datasets.core.evaluations import headline, read_evaluations

    records = read_evaluations(folder)
    fits = lambda r: r["protocol"] == protocol and r["models"] >= job.evaluation.models  # noqa: E731
    if job.evaluation.epochs is None:
        found = headline(records, sha256)
        return found if found and fits(found) else None
    return next((r for r in reversed(records)
                 if r.get("set_sha256") == sha256 and fits(r) and r["epochs"] == job.evaluation.epochs), None)


def run_job(job: Job) -> JobResult:
    """Build (or resume) one set to its target iterations and evaluate it; never raises (a failure is a result)."""
    start = time.monotonic()
    try:
        return _run(job, start)
    except (KeyboardInterrupt, RunStopped):  # a stop asked for ends the whole run, not just this set
        raise
    except Exception as err:  # one set failing must not stop the others; the error travels in the result
        detail = traceback.format_exc() if os.environ.get("CONDENSED_DEBUG") else f"{type(err).__name__}: {err}"
        return JobResult(job.key, "failed", round(time.monotonic() - start, 1), error=detail)


def _run(job: Job, start: float) -> JobResult:
    import torch

    from condensed_datasets.core.evaluations import record_evaluation
    from condensed_datasets.core.files import sha256_file
    from condensed_datasets.core.storage import load
    from condensed_datasets.pipeline.build import build
    from condensed_datasets.pipeline.collection import select
    from condensed_datasets.training.evaluate import evaluate
    from condensed_datasets.training.sources import load_source

    if job.threads:
        torch.set_num_threads(job.threads)
    entry = select([job.key])[0]
    target = _target_iterations(job, entry)
    folder = set_dir(job.out, job.dataset, job.method, job.ipc)
    path = folder / SET_FILENAME
    state = "skipped"
    real = None  # the real dataset, read at most once per job (building and evaluating both need it)
    cset = load(path) if path.is_file() else None
    if cset is None or (target is not None and int(cset.meta.get("iterations_run", 0)) < target):
        adopt_staged_checkpoint(job.staged, job.out, entry, CHECKPOINT_FILENAME)
        resume = (folder / CHECKPOINT_FILENAME).is_file()
        state = "resumed" if resume else "built"
        real = load_source(job.dataset, job.data_root)
        build(job.dataset, job.method, job.ipc, out=job.out, settings=job.settings, iterations=target, source=real,
              resume=resume, progress=False)
        cset = load(path)
    sha256 = sha256_file(path)
    result = _evaluation_of(folder, sha256, job, entry.protocol)
    if result is None:
        real = real if real is not None else load_source(job.dataset, job.data_root)
        adopt_staged_checkpoint(job.staged, job.out, entry, EVAL_CHECKPOINT_FILENAME)  # used only if it is this evaluation's
        result = evaluate(cset, real, job.evaluation, progress=False, checkpoint=folder / EVAL_CHECKPOINT_FILENAME)
        result = record_evaluation(path, result)
        state = "evaluated" if state == "skipped" else state
    return JobResult(job.key, state, round(time.monotonic() - start, 1), str(path), f"{result['mean']:.2f} ± {result['std']:.2f}")




def run_local(jobs: list[Job], on_result: Callable[[JobResult], None]) -> list[JobResult]:
    """Run the jobs one after another in this process."""
    results = []
    for job in jobs:
        results.append(run_job(job))
        on_result(results[-1])
    return results


def run_ray(jobs: list[Job], on_result: Callable[[JobResult], None], address: str | None = None) -> list[JobResult]:
    """One Ray task per job (one GPU each on CUDA), on a running/local Ray instance or the cluster at ``address``."""
    try:
        import ray
    except ImportError:
        raise RuntimeError("--engine ray needs Ray: pip install 'condensed-datasets[ray]'") from None
    if not ray.is_initialized():
        ray.init(address=address, log_to_driver=False)
    remote = ray.remote(run_job)
    pending = {}
    for job in jobs:
        gpus = 1 if job.settings.device.startswith("cuda") else 0
        pending[remote.options(num_cpus=job.threads or 1, num_gpus=gpus).remote(job)] = job
    results = []
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        job = pending.pop(done[0])
        try:
            result = ray.get(done[0])
        except Exception as err:  # a worker that died (killed, out of memory) rather than a failed build
            result = JobResult(job.key, "failed", 0.0, error=f"{type(err).__name__}: {err}")
        results.append(result)
        on_result(result)
    return results


def refresh_cards(out: str | os.PathLike, datasets: Iterable[str]) -> list[Path]:
    """Re-render the dataset card of each dataset folder that holds sets."""
    from condensed_datasets.pipeline.cards import dataset_folders, write_card

    written = []
    for dataset in sorted(set(datasets)):
        folder = Path(out) / dataset
        if folder.is_dir() and dataset_folders(folder):
            written.append(write_card(folder))
    return written
