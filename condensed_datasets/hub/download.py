"""The Hugging Face Hub side: where published sets live, and downloading them with verification.

A registry (``published_sets.json`` in the package, plus the file named by ``$CONDENSED_REGISTRY``)
maps (dataset, method, ipc) to a dataset repo, the file path ``<method>/ipc<N>/condensed.safetensors``,
a pinned revision and the file's sha256. Without an entry, the repo defaults to
``$CONDENSED_HUB_ORG/condensed-<dataset>`` (org ``condensed-datasets``) at ``main``.

The endpoint is resolved on every call (``$HF_ENDPOINT``), so tests and mirrors work without
re-importing ``huggingface_hub``; ``$HF_HUB_OFFLINE=1`` downloads from the cache only.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from condensed_datasets.core.errors import (
    CondensedFormatError,
    HubUnreachableError,
    SetUnavailableError,
)
from condensed_datasets.core.files import SHA256_HEX, sha256_file
from condensed_datasets.core.layout import path_in_repo
from condensed_datasets.hub.pins import (
    _COMMIT,
    check_repo_id,
    check_revision,
    default_repo_id,
    find_set,
)


def endpoint() -> str | None:
    """The Hub endpoint for this call (``$HF_ENDPOINT``; ``None`` means huggingface_hub's default)."""
    return os.environ.get("HF_ENDPOINT") or None


def offline() -> bool:
    """Whether ``$HF_HUB_OFFLINE`` asks for cache-only downloads."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


HEAD_TIMEOUT_S = 10.0  # one metadata request, no retries: an unreachable Hub fails in about a second


@dataclass(frozen=True)
class _Target:
    """What one download resolves to: the file at a revision of a repo, and the sha256 it must have."""

    spec: str
    repo_id: str
    revision: str
    filename: str
    pinned_sha256: str | None
    local_dir: Path | None

    @property
    def where(self) -> str:
        return f"{self.repo_id}@{self.revision}:{self.filename}"

    def kwargs(self, **extra: Any) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"repo_id": self.repo_id, "filename": self.filename, "repo_type": "dataset",
                                  "revision": self.revision, "endpoint": endpoint(), **extra}
        if self.local_dir is not None:
            kwargs["local_dir"] = str(self.local_dir)
        return kwargs

    def offline_help(self, reason: str) -> str:
        dataset, method, ipc = self.spec.split("/")
        return (f"cannot get condensed set {self.spec}: {reason}, and no copy of {self.where} is stored "
                f"{'under ' + str(self.local_dir) if self.local_dir else 'in the Hugging Face cache'}. To work offline, "
                f"build it (`condensed build {dataset} --method {method} --ipc {ipc[3:]} --out ROOT`, then root=ROOT), "
                "or download it once while online (root=... or the Hugging Face cache) and then load it with "
                "download=False or HF_HUB_OFFLINE=1")


def download_set(dataset: str, method: str, ipc: int, *, local_dir: str | os.PathLike | None = None,
                 repo_id: str | None = None, revision: str | None = None, local_only: bool = False) -> Path:
    """One set's file from the Hub (or its local copy), verified.

    Args:
        local_dir: download into this folder (``<local_dir>/<method>/ipc<N>/condensed.safetensors``);
            ``None`` uses the Hugging Face cache.
        repo_id / revision: override the registry (a pinned sha256 only applies to the registry's repo).
        local_only: never touch the network (also when ``$HF_HUB_OFFLINE`` is set): a stored copy or an error.

    A copy already stored for a commit revision is used without any request. Otherwise one metadata
    request without retries tells whether the Hub is reachable (an unreachable Hub fails at once,
    with how to work offline) and which sha256 the Hub records for the file; the download must match
    the registry's pin, or else that sha256. A mismatching file is downloaded once more; a second
    mismatch is an error. A failed call leaves no new folders or lock files behind.
    """
    entry = find_set(dataset, method, ipc)
    repo_id = check_repo_id(repo_id or (entry.repo_id if entry else default_repo_id(dataset)))
    pinned = entry if entry and entry.repo_id == repo_id and revision in (None, entry.revision) else None
    target = _Target(f"{dataset}/{method}/ipc{ipc}", repo_id, check_revision(revision or (pinned.revision if pinned else "main")),
                     path_in_repo(method, ipc), pinned.sha256 if pinned else None,
                     Path(local_dir) if local_dir is not None else None)
    with _no_leftovers(target):
        return _fetch(target, local_only or offline())


def resolved_commit(path: str | os.PathLike, local_dir: str | os.PathLike | None = None) -> str | None:
    """The Hub commit a downloaded file came from: its cache snapshot folder, or the metadata
    huggingface_hub keeps beside a ``local_dir`` download (first line). ``None`` for other files."""
    path = Path(path)
    if local_dir is None:
        parts = path.parts
        return parts[parts.index("snapshots") + 1] if "snapshots" in parts[:-1] else None
    if not path.is_relative_to(local_dir):
        return None
    try:
        commit = _download_marker(local_dir, path.relative_to(local_dir).as_posix()).read_text().splitlines()[0].strip()
    except (OSError, IndexError):
        return None
    return commit if _COMMIT.match(commit) else None


def _fetch(target: _Target, local_only: bool) -> Path:
    from huggingface_hub import errors as hf_errors

    try:
        if local_only or _COMMIT.match(target.revision):
            stored = _stored_copy(target, strict=local_only)
            if stored is not None:
                return stored
            if local_only:
                reason = "HF_HUB_OFFLINE is set" if offline() else "download=False"
                raise SetUnavailableError(target.offline_help(reason)) from None
        try:
            hub_sha256 = _hub_sha256(target)
        except HubUnreachableError:
            stored = _stored_copy(target, strict=False)  # a branch's stored copy, as huggingface_hub falls back
            if stored is None:
                raise
            return stored
        expected = target.pinned_sha256 or hub_sha256
        path = _download(target)
        if expected and sha256_file(path) != expected:
            path = _download(target, force_download=True)
            if sha256_file(path) != expected:
                source = "pinned in the registry" if target.pinned_sha256 else "recorded by the Hub for this commit"
                raise CondensedFormatError(f"{target.where}: downloaded twice and the sha256 still differs from the "
                                           f"{expected} {source}; the file on the Hub is not the one expected")
        return path
    except hf_errors.RevisionNotFoundError:
        raise SetUnavailableError(f"repo {target.repo_id} has no revision {target.revision!r}: cannot fetch {target.where}") from None
    except hf_errors.RepositoryNotFoundError:
        raise SetUnavailableError(f"no dataset repo {target.repo_id} on the Hub (or it is private): cannot fetch {target.where}") from None
    except hf_errors.EntryNotFoundError:
        raise SetUnavailableError(f"repo {target.repo_id} has no set {target.filename.rsplit('/', 1)[0]} at "
                                  f"{target.revision}: {target.filename} is missing") from None


def _download(target: _Target, **extra: Any) -> Path:
    from huggingface_hub import hf_hub_download

    return Path(hf_hub_download(**target.kwargs(**extra)))


def _stored_copy(target: _Target, strict: bool) -> Path | None:
    """The copy already stored for this revision (no request), verified; ``None`` if there is none usable.

    A stored copy whose sha256 differs from the pin is an error when ``strict`` (no second download
    allowed), else ``None`` so that it is downloaded again.
    """
    from huggingface_hub import errors as hf_errors

    if target.local_dir is not None and not _COMMIT.match(target.revision):
        # a branch in a local folder: huggingface_hub would warn that it cannot check for updates
        path = target.local_dir / target.filename
        if not (path.is_file() and is_downloaded_copy(target.local_dir, target.filename)):
            return None
    else:
        try:
            path = _download(target, local_files_only=True)
        except (hf_errors.LocalEntryNotFoundError, hf_errors.OfflineModeIsEnabled):
            return None
    if target.pinned_sha256 and sha256_file(path) != target.pinned_sha256:
        if strict:
            raise CondensedFormatError(f"{path} is corrupted (sha256 differs from the pinned {target.pinned_sha256}) "
                                       "and it may not be downloaded again (offline or download=False)")
        return None
    return path


def _download_marker(local_dir: str | os.PathLike, filename: str) -> Path:
    """The metadata file ``hf_hub_download(local_dir=...)`` keeps for ``filename`` (commit, etag, time)."""
    return Path(local_dir) / ".cache" / "huggingface" / "download" / f"{filename}.metadata"


def is_downloaded_copy(local_dir: str | os.PathLike, filename: str) -> bool:
    """Whether ``hf_hub_download(local_dir=...)`` put ``filename`` there (it leaves a metadata file beside it)."""
    return _download_marker(local_dir, filename).is_file()


def _hub_sha256(target: _Target) -> str | None:
    """One metadata request, no retries: the sha256 the Hub records for the file (LFS files), if any.

    An unreachable Hub (connection refused, DNS failure, timeout) raises `HubUnreachableError` at once;
    `_fetch` then falls back to a stored copy of the revision, as huggingface_hub would.
    """
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    from huggingface_hub.utils import httpx

    url = hf_hub_url(target.repo_id, target.filename, repo_type="dataset", revision=target.revision, endpoint=endpoint())
    try:
        etag = get_hf_file_metadata(url, timeout=HEAD_TIMEOUT_S, endpoint=endpoint()).etag or ""
    except (httpx.NetworkError, httpx.TimeoutException, httpx.RemoteProtocolError) as err:
        raise HubUnreachableError(target.offline_help(f"the Hub at {endpoint() or 'huggingface.co'} cannot be reached "
                                               f"({type(err).__name__}: {err})")) from None
    return etag if SHA256_HEX.match(etag) else None


@contextmanager
def _no_leftovers(target: _Target) -> Iterator[None]:
    """On failure, remove the folders and lock files this download created (nothing half-made stays)."""
    base = target.local_dir if target.local_dir is not None else _cache_folder(target.repo_id)
    snapshot = _snapshot(base)
    try:
        yield
    except BaseException:
        _remove_new(snapshot)
        raise


def _cache_folder(repo_id: str) -> Path:
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE) / f"datasets--{repo_id.replace('/', '--')}"


def _snapshot(base: Path) -> tuple[Path, bool, set[Path]]:
    """What is there now: the whole tree under ``base``, or, when it does not exist yet, the entries of
    its nearest existing ancestor (never a walk of a large parent such as the home folder)."""
    top = base
    while not top.exists() and top.parent != top:
        top = top.parent
    whole = top == base
    return top, whole, set(top.rglob("*")) if whole else set(top.iterdir()) if top.is_dir() else set()


def _remove_new(snapshot: tuple[Path, bool, set[Path]]) -> None:
    """Delete lock files and empty folders added since `_snapshot`, deepest first; data files stay."""
    top, whole, before = snapshot
    if not top.is_dir():
        return
    if whole:
        added = set(top.rglob("*")) - before
    else:
        added = {q for p in set(top.iterdir()) - before for q in (p, *(p.rglob("*") if p.is_dir() else ()))}
    for path in sorted(added, key=lambda p: len(p.parts), reverse=True):
        if path.is_file() and path.suffix in (".lock", ".incomplete"):
            path.unlink(missing_ok=True)
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
