"""core.files"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")  # a sha256 as the Hub, the pins and eval.json write it


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file (what the registry pins and the Hub uses as the LFS oid)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary file beside ``path``; on success it replaces ``path`` in one rename.

    Same filesystem, so ``os.replace`` is atomic: readers see the old file or the new one, never half
    of one. On error the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    ensure_folder(path.parent)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        # mkstemp (and safetensors' writer, which recreates the file) make 0600 files: give the usual mode
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def check_folder(folder: str | os.PathLike) -> Path:
    """``folder`` if it is or can become a folder; a file in the way is a `ValueError` naming it."""
    folder = Path(folder)
    for part in (folder, *folder.parents):
        if part.exists() and not part.is_dir():
            raise ValueError(f"cannot create folder {folder}: {part} is a file, not a folder")
    return folder


def ensure_folder(folder: str | os.PathLike) -> Path:
    """Create ``folder`` (and its parents); a file in the way is a `ValueError` naming it, not an OSError."""
    folder = check_folder(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ValueError(f"cannot create folder {folder}: {err.strerror or err}") from None
    return folder


def remove_stale_temporaries(path: str | os.PathLike) -> None:
    """Delete temporary files `atomic_path` left beside ``path`` when a writer was killed mid-write.

    Only for files one process owns (a run's checkpoint): another writer's live temporary would go too.
    """
    path = Path(path)
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        stale.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename: never half-written."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def copy_atomically(source: str | os.PathLike, target: str | os.PathLike) -> Path:
    """Copy a file so that ``target`` is either absent or complete (temporary file + rename); returns ``target``."""
    with atomic_path(target) as tmp:
        shutil.copyfile(source, tmp)
    return Path(target)
