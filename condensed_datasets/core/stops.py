"""Stop requests: while long work runs (a build, an evaluation), a SIGTERM is recorded instead of ending the
process, so the work stops at its next boundary with its progress written (a campaign's deadline, a scheduler's stop).
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Callable, Iterator


@contextmanager
def stop_requests() -> Iterator[Callable[[], bool]]:
    """While open, a SIGTERM is recorded instead of ending the process; yields whether one arrived.

    Signals reach the main thread only: elsewhere (a worker thread) nothing is installed and it never reports one."""
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return
    arrived: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: arrived.append(signum))
    try:
        yield lambda: bool(arrived)
    finally:
        signal.signal(signal.SIGTERM, previous)
