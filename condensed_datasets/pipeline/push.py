"""``condensed push``: upload a dataset folder's sets, previews, viewer export and card in ONE commit.

Everything is staged in a temporary folder (the card rendered for the target repo, a parquet
"preview" of every set for the Hub's viewer), then sent with a single ``create_commit``, so a failure
never leaves a half-updated repo and nothing local is modified. The commit id is returned and
recorded in the registry file so loaders can pin it.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from condensed_datasets.core.errors import PushError
from condensed_datasets.core.layout import (
    EVAL_FILENAME,
    PARQUET_FILENAME,
    PREVIEW_FILENAME,
    SET_FILENAME,
)
from condensed_datasets.hub.download import endpoint
from condensed_datasets.hub.pins import (
    PublishedSet,
    check_registry,
    check_repo_id,
    check_revision,
    record_set,
)
from condensed_datasets.pipeline.cards import dataset_folders, find_sets, render_card
from condensed_datasets.pipeline.preview import write_preview, write_viewer_export


@dataclass
class PushResult:
    """What a push created: the commit, its URL and the pinned sets."""

    repo_id: str
    commit: str
    url: str
    sets: list[PublishedSet]


def _operations(folder: Path, only: Path | None, staging: Path, repo_id: str) -> tuple[list, list[PublishedSet], str]:
    from huggingface_hub import CommitOperationAdd

    ops, pinned = [], []
    found = find_sets(folder)  # every set of the folder, for the card; each hashed once
    sets = [s for s in found if only is None or s.path.resolve() == only.resolve()]
    if not sets:
        raise FileNotFoundError(f"no condensed set to push under {folder}")
    for s in sets:
        rel = s.relative
        stage = staging / rel
        stage.mkdir(parents=True, exist_ok=True)
        preview = s.path.parent / PREVIEW_FILENAME
        if not preview.is_file():
            preview = write_preview(s.cset, stage / PREVIEW_FILENAME)
        write_viewer_export(s.path, stage / PARQUET_FILENAME)
        ops += [CommitOperationAdd(f"{rel}/{SET_FILENAME}", str(s.path)),
                CommitOperationAdd(f"{rel}/{PREVIEW_FILENAME}", str(preview)),
                CommitOperationAdd(f"{rel}/{PARQUET_FILENAME}", str(stage / PARQUET_FILENAME))]
        if (s.path.parent / EVAL_FILENAME).is_file():
            ops.append(CommitOperationAdd(f"{rel}/{EVAL_FILENAME}", str(s.path.parent / EVAL_FILENAME)))
        pinned.append(PublishedSet(s.cset.dataset, s.cset.method, s.cset.ipc, repo_id, "", s.sha256, _accuracy(s)))
    (staging / "README.md").write_text(render_card(folder, repo_id, found))
    ops.append(CommitOperationAdd("README.md", str(staging / "README.md")))
    return ops, pinned, sets[0].cset.dataset


def _retrying(what: str, call, retries: int, wait: float):
    from huggingface_hub.errors import HfHubHTTPError
    from huggingface_hub.utils import httpx

    for attempt in range(1, retries + 1):
        try:
            return call()
        except HfHubHTTPError as err:
            status = getattr(err.response, "status_code", None)
            if status is not None and status < 500 and status != 429:
                raise PushError(f"{what} was refused by the Hub (HTTP {status}): {err.server_message or err}") from None
            last = f"HTTP {status}: {err.server_message or err}"
        except httpx.HTTPError as err:  # connection refused, timeouts, ...
            last = f"{type(err).__name__}: {err}"
        if attempt < retries:
            time.sleep(wait * 2 ** (attempt - 1))
    raise PushError(f"{what} failed after {retries} attempts ({last}); nothing was changed on the Hub or locally")


def push(path: str | os.PathLike, repo_id: str, *, revision: str | None = None, private: bool = False,
         registry: str | os.PathLike | None = None, retries: int = 3, retry_wait: float = 0.5,
         message: str | None = None) -> PushResult:
    """Push a dataset folder (``ROOT/<dataset>/``), a root holding exactly one, or one set file.

    The token comes from huggingface_hub's usual sources (``HF_TOKEN``, the stored login); it is
    never printed. ``registry`` (default ``$CONDENSED_REGISTRY``) records the commit and sha256 pins.
    """
    from huggingface_hub import HfApi

    from condensed_datasets.hub.download import offline

    check_repo_id(repo_id)
    if revision is not None:
        check_revision(revision)
    registry = registry or os.environ.get("CONDENSED_REGISTRY")
    if registry:
        check_registry(registry)  # every local check before the first network write
    if offline():
        raise PushError("HF_HUB_OFFLINE is set: pushing needs the Hub; unset HF_HUB_OFFLINE and try again")
    folder, only = _target(Path(path))
    api = HfApi(endpoint=endpoint())
    with tempfile.TemporaryDirectory() as tmp:
        ops, pinned, dataset = _operations(folder, only, Path(tmp), repo_id)
        _retrying(f"creating {repo_id}", lambda: api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True), retries, retry_wait)
        names = ", ".join(f"{p.method}/ipc{p.ipc}" for p in pinned)
        info = _retrying(f"committing to {repo_id}", lambda: api.create_commit(
            repo_id, ops, commit_message=message or f"Upload condensed {dataset} sets: {names}", repo_type="dataset",
            revision=revision), retries, retry_wait)
    pinned = [PublishedSet(p.dataset, p.method, p.ipc, p.repo_id, info.oid, p.sha256, p.accuracy) for p in pinned]
    if registry:
        try:
            record_pins(pinned, registry)
        except Exception as err:  # whatever stops the write, the commit has landed: say so, and how to record it
            raise PushError(f"the commit {info.oid} landed on {repo_id} ({info.commit_url}), but its pins could not be "
                            f"recorded in {registry} ({err}); record them with: condensed pin {path} --repo {repo_id} "
                            f"--commit {info.oid} --registry REGISTRY") from None
    return PushResult(repo_id, info.oid, info.commit_url, pinned)


def record_pins(pinned: list[PublishedSet], registry: str | os.PathLike) -> None:
    """Record each set's commit and sha256 in the registry file (each entry atomically)."""
    for entry in pinned:
        record_set(entry, registry)


def pins_of(path: str | os.PathLike, repo_id: str, commit: str) -> list[PublishedSet]:
    """The pins of the local sets at ``path`` (a dataset folder, a root holding one, or one set file) as pushed
    in ``commit`` of ``repo_id``: what ``condensed pin`` records after a push whose registry write failed."""
    check_repo_id(repo_id)
    check_revision(commit)
    folder, only = _target(Path(path))
    sets = [s for s in find_sets(folder) if only is None or s.path.resolve() == only.resolve()]
    return [PublishedSet(s.cset.dataset, s.cset.method, s.cset.ipc, repo_id, commit, s.sha256, _accuracy(s))
            for s in sets]


def _accuracy(s: Any) -> dict[str, Any] | None:
    return {k: s.evaluation[k] for k in ("mean", "std", "protocol", "epochs", "models", "arch")} if s.evaluation else None


def _target(path: Path) -> tuple[Path, Path | None]:
    """The dataset folder to push and, for a single set file, that file."""
    if path.is_file():
        return path.parent.parent.parent, path
    folders = dataset_folders(path)
    if len(folders) != 1:
        names = ", ".join(f.name for f in folders) or "none"
        raise ValueError(f"{path} holds sets of {len(folders)} datasets ({names}); one repo holds one dataset: push ROOT/<dataset>")
    return folders[0], None
