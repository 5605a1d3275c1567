"""hub.pins"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from condensed_datasets.core.files import SHA256_HEX, atomic_write_bytes
from condensed_datasets.core.layout import check_name, path_in_repo

_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")


DEFAULT_ORG = "condensed-datasets"


ORG_ENV = "CONDENSED_HUB_ORG"


REGISTRY_ENV = "CONDENSED_REGISTRY"


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


def check_repo_id(repo_id: str) -> str:
    """Refuse repo ids that are not ``owner/name`` (path traversal included)."""
    if not isinstance(repo_id, str) or not _REPO_ID.match(repo_id) or ".." in repo_id:
        raise ValueError(f"invalid repo id {repo_id!r}: expected 'owner/name' with letters, digits, '.', '_' or '-'")
    return repo_id


def default_repo_id(dataset: str) -> str:
    """``<org>/condensed-<dataset>``, the org from ``$CONDENSED_HUB_ORG`` (default ``condensed-datasets``)."""
    return check_repo_id(f"{os.environ.get(ORG_ENV) or DEFAULT_ORG}/condensed-{check_name(dataset, 'dataset')}")


def list_sets(dataset: str | None = None) -> list[PublishedSet]:
    """Every set the registry knows (later registry files override earlier ones), optionally of one dataset."""
    entries: dict[str, PublishedSet] = {}
    for file in _registry_files():
        if not file.is_file():
            continue
        for entry in _read_registry(file):
            entries[entry.spec] = entry
    return [e for e in entries.values() if dataset is None or e.dataset == dataset]


def find_set(dataset: str, method: str, ipc: int) -> PublishedSet | None:
    """The registry entry for (dataset, method, ipc), if any."""
    return next((e for e in list_sets(dataset) if e.method == method and e.ipc == ipc), None)


def record_set(entry: PublishedSet, registry: str | os.PathLike) -> None:
    """Add or replace ``entry`` in a registry JSON file (atomically)."""
    from condensed_datasets.core.locks import file_lock

    path = Path(registry)
    with file_lock(path):
        kept = [asdict(e) for e in (_read_registry(path) if path.is_file() else []) if e.spec != entry.spec]
        data = {"sets": kept + [asdict(entry)]}
        atomic_write_bytes(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())


def check_registry(registry: str | os.PathLike) -> Path:
    """A registry file that can be written: its folder exists and is writable, it is not a folder, and an existing
    one is a valid registry; else a `ValueError` naming the path and what is wrong (checked before any upload)."""
    path = Path(registry)
    if str(registry).strip() == "" or path.is_dir():
        raise ValueError(f"--registry {str(registry)!r} must name a JSON file, not a folder")
    if not path.parent.is_dir():
        raise ValueError(f"--registry {path}: its folder {path.parent} does not exist")
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ValueError(f"--registry {path} cannot be written (permissions)")
    if path.exists():
        _read_registry(path)  # an existing registry must be valid before we add to it
    return path


def check_revision(revision: str) -> str:
    """Refuse revisions that are not a branch, tag or commit name (they end up in cache file paths)."""
    if (not isinstance(revision, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._/-]*", revision)
            or ".." in revision or revision.endswith("/") or "//" in revision):
        raise ValueError(f"invalid revision {revision!r}: expected a branch, tag or commit id")
    return revision


def _registry_files() -> list[Path | Any]:
    files: list[Any] = [resources.files(__package__).joinpath("published_sets.json")]
    if os.environ.get(REGISTRY_ENV):
        files.append(Path(os.environ[REGISTRY_ENV]).expanduser())
    return files


_ENTRY_FIELDS = {"dataset": str, "method": str, "ipc": int, "repo_id": str, "revision": str, "sha256": str}


def _read_registry(file: Any) -> list[PublishedSet]:
    """The entries of one registry file, each checked; a malformed file or entry is a `ValueError` naming it."""
    try:
        data = json.loads(file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"registry {file} is not valid JSON ({err}); fix or remove it") from None
    if not isinstance(data, dict) or not isinstance(data.get("sets", []), list):
        raise ValueError(f"registry {file} must be an object with a 'sets' list")
    out = []
    for i, raw in enumerate(data.get("sets", [])):
        where = f"registry {file}, entry {i}"
        if not isinstance(raw, dict):
            raise ValueError(f"{where} is not an object")
        missing = [k for k in _ENTRY_FIELDS if k not in raw]
        unknown = sorted(set(raw) - set(_ENTRY_FIELDS) - {"accuracy"})
        wrong = [k for k, t in _ENTRY_FIELDS.items() if k in raw and (not isinstance(raw[k], t) or isinstance(raw[k], bool))]
        if missing or unknown or wrong:
            raise ValueError(f"{where} is malformed: missing {missing or 'nothing'}, unknown {unknown or 'nothing'}, "
                             f"wrong type {wrong or 'nothing'}; fields: {', '.join(_ENTRY_FIELDS)}, accuracy")
        check_name(raw["dataset"], "dataset"), check_name(raw["method"], "method"), check_repo_id(raw["repo_id"])
        if raw["revision"]:
            check_revision(raw["revision"])
        if not SHA256_HEX.match(raw["sha256"]):
            raise ValueError(f"{where}: sha256 {raw['sha256']!r} is not 64 hex digits")
        out.append(PublishedSet(**raw))
    return out
