"""One writer at a time: a set folder, an ``eval.json`` or a registry file is changed under a file lock.

`set_lock` guards a whole build of one set (its checkpoint, its temporaries, the set file): a second
build of the same set is refused at once with the holder's PID, host and start time, instead of two
runs mixing their files. `file_lock` serialises the short read-modify-write of a JSON file.
"""

from __future__ import annotations

import json
import os
import socket
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from filelock import FileLock, Timeout

from condensed_datasets.core.errors import SetInUseError

SET_LOCK_NAME = ".build.lock"
OWNER_SUFFIX = ".owner"
JSON_LOCK_TIMEOUT_S = 60.0


@contextmanager
def set_lock(folder: str | os.PathLike) -> Iterator[None]:
    """Hold the build lock of a set folder for the duration of the block; refuse at once if it is held."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lock_path = folder / SET_LOCK_NAME
    owner = lock_path.with_name(lock_path.name + OWNER_SUFFIX)
    lock = FileLock(str(lock_path), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise SetInUseError(f"{folder} is in use by {_describe(owner)}; wait for that build to finish or stop it "
                            f"(the lock is released when its process ends)") from None
    try:
        owner.write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}))
        yield
    finally:
        owner.unlink(missing_ok=True)
        lock.release()


def _describe(owner: Path) -> str:
    try:
        info = json.loads(owner.read_text())
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(info["since"])))
        return f"PID {int(info['pid'])} on {info['host']} (since {since})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


@contextmanager
def file_lock(path: str | os.PathLike, timeout: float = JSON_LOCK_TIMEOUT_S) -> Iterator[None]:
    """Serialise read-modify-write of ``path`` across processes (waits up to ``timeout`` seconds)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path.with_name(f".{path.name}.lock")), timeout=timeout)
    try:
        with lock:
            yield
    except Timeout:
        raise SetInUseError(f"{path} stayed locked for {timeout:.0f} s by another process; try again") from None
