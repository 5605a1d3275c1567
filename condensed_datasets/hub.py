"""The Hugging Face Hub side: where published sets live, and downloading them with verification.

A registry (``published_sets.json`` in the package, plus the file named by ``$CONDENSED_REGISTRY``)
maps (dataset, method, ipc) to a dataset repo, the file path ``<method>/ipc<N>/condensed.safetensors``,
a pinned revision and the file's sha256. Without an entry, the repo defaults to
``$CONDENSED_HUB_ORG/condensed-<dataset>`` (org ``condensed-datasets``) at ``main``.

The endpoint is resolved on every call (``$HF_ENDPOINT``), so tests and mirrors work without
re-importing ``huggingface_hub``; ``$HF_HUB_OFFLINE=1`` downloads from the cache only.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from .storage import CondensedFormatError, atomic_write_bytes, sha256_file

DEFAULT_ORG = "condensed-datasets"
ORG_ENV = "CONDENSED_HUB_ORG"
REGISTRY_ENV = "CONDENSED_REGISTRY"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class PublishedSet:
    """One pinned set on the Hub."""

    dataset: str
    method: str
    ipc: int
    repo_id: str
    revision: str
    sha256: str
    accuracy: dict[str, Any] | None = None

    @property
    def spec(self) -> str:
        return f"{self.dataset}/{self.method}/ipc{self.ipc}"

    @property
    def filename(self) -> str:
        return path_in_repo(self.method, self.ipc)


def check_name(value: str, what: str) -> str:
    """Refuse names that could escape a folder (``..``, slashes, empty)."""
    if not isinstance(value, str) or not _NAME.match(value) or ".." in value:
        raise ValueError(f"invalid {what} {value!r}: use letters, digits, '.', '_' or '-' (no slashes or '..')")
    return value


def check_repo_id(repo_id: str) -> str:
    """Refuse repo ids that are not ``owner/name`` (path traversal included)."""
    if not isinstance(repo_id, str) or not _REPO_ID.match(repo_id) or ".." in repo_id:
        raise ValueError(f"invalid repo id {repo_id!r}: expected 'owner/name' with letters, digits, '.', '_' or '-'")
    return repo_id


def path_in_repo(method: str, ipc: int) -> str:
    """``<method>/ipc<N>/condensed.safetensors``: a set's file inside its dataset repo."""
    return f"{check_name(method, 'method')}/ipc{int(ipc)}/condensed.safetensors"


def default_repo_id(dataset: str) -> str:
    """``<org>/condensed-<dataset>``, the org from ``$CONDENSED_HUB_ORG`` (default ``condensed-datasets``)."""
    return check_repo_id(f"{os.environ.get(ORG_ENV) or DEFAULT_ORG}/condensed-{check_name(dataset, 'dataset')}")


def endpoint() -> str | None:
    """The Hub endpoint for this call (``$HF_ENDPOINT``; ``None`` means huggingface_hub's default)."""
    return os.environ.get("HF_ENDPOINT") or None


def offline() -> bool:
    """Whether ``$HF_HUB_OFFLINE`` asks for cache-only downloads."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _registry_files() -> list[Path | Any]:
    files: list[Any] = [resources.files("condensed_datasets").joinpath("published_sets.json")]
    if os.environ.get(REGISTRY_ENV):
        files.append(Path(os.environ[REGISTRY_ENV]).expanduser())
    return files


def list_sets(dataset: str | None = None) -> list[PublishedSet]:
    """Every set the registry knows (later registry files override earlier ones), optionally of one dataset."""
    entries: dict[str, PublishedSet] = {}
    for file in _registry_files():
        if not file.is_file():
            continue
        for raw in json.loads(file.read_text()).get("sets", []):
            entry = PublishedSet(**raw)
            entries[entry.spec] = entry
    return [e for e in entries.values() if dataset is None or e.dataset == dataset]


def find_set(dataset: str, method: str, ipc: int) -> PublishedSet | None:
    """The registry entry for (dataset, method, ipc), if any."""
    return next((e for e in list_sets(dataset) if e.method == method and e.ipc == ipc), None)


def record_set(entry: PublishedSet, registry: str | os.PathLike) -> None:
    """Add or replace ``entry`` in a registry JSON file (atomically)."""
    path = Path(registry)
    data = json.loads(path.read_text()) if path.is_file() else {"sets": []}
    sets = [s for s in data.get("sets", []) if (s["dataset"], s["method"], s["ipc"]) != (entry.dataset, entry.method, entry.ipc)]
    data["sets"] = sets + [asdict(entry)]
    atomic_write_bytes(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())


def download_set(dataset: str, method: str, ipc: int, *, local_dir: str | os.PathLike | None = None,
                 repo_id: str | None = None, revision: str | None = None) -> Path:
    """Download one set's file with ``hf_hub_download`` and verify its pinned sha256.

    Args:
        local_dir: download into this folder (``<local_dir>/<method>/ipc<N>/condensed.safetensors``);
            ``None`` uses the Hugging Face cache.
        repo_id / revision: override the registry (a pinned sha256 only applies to the registry's repo).

    A file whose sha256 does not match the pin is downloaded once more; a second mismatch is an error.
    """
    from huggingface_hub import hf_hub_download
    from huggingface_hub import errors as hf_errors

    entry = find_set(dataset, method, ipc)
    repo_id = check_repo_id(repo_id or (entry.repo_id if entry else default_repo_id(dataset)))
    pinned = entry if entry and entry.repo_id == repo_id and revision in (None, entry.revision) else None
    revision = revision or (pinned.revision if pinned else "main")
    filename = path_in_repo(method, ipc)
    kwargs: dict[str, Any] = {"repo_id": repo_id, "filename": filename, "repo_type": "dataset", "revision": revision,
                              "endpoint": endpoint(), "local_files_only": offline()}
    if local_dir is not None:
        kwargs["local_dir"] = str(local_dir)
    where = f"{repo_id}@{revision}:{filename}"
    try:
        path = Path(hf_hub_download(**kwargs))
        if pinned and sha256_file(path) != pinned.sha256:
            if kwargs["local_files_only"]:
                raise CondensedFormatError(f"{path} is corrupted (sha256 differs from the pinned {pinned.sha256}) "
                                           "and HF_HUB_OFFLINE forbids downloading it again")
            path = Path(hf_hub_download(**kwargs, force_download=True))
            if sha256_file(path) != pinned.sha256:
                raise CondensedFormatError(f"{where}: downloaded twice and the sha256 still differs from the pinned "
                                           f"{pinned.sha256}; the Hub copy does not match the registry")
    except hf_errors.LocalEntryNotFoundError:
        raise FileNotFoundError(f"{where} is not in the local cache and the Hub cannot be reached "
                                "(offline, or HF_HUB_OFFLINE=1)") from None
    except hf_errors.RevisionNotFoundError:
        raise FileNotFoundError(f"repo {repo_id} has no revision {revision!r}: cannot fetch {where}") from None
    except hf_errors.RepositoryNotFoundError:
        raise FileNotFoundError(f"no dataset repo {repo_id} on the Hub (or it is private): cannot fetch {where}") from None
    except hf_errors.EntryNotFoundError:
        raise FileNotFoundError(f"repo {repo_id} has no set {method}/ipc{ipc} at {revision}: {filename} is missing") from None
    return path
