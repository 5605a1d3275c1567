"""Keep freed memory for reuse: glibc's allocator otherwise maps and unmaps every large tensor.

On Linux with glibc, a block above the mmap threshold (at most 32 MiB) is a fresh mapping that the
kernel zero-fills page by page, and it is unmapped when freed. A ConvNet pass over 100 CIFAR images
allocates activations of 50 MB, so every training step paid page faults again (the profile showed as
much system time as user time). `keep_freed_memory` tells glibc to serve large blocks from its heap
and to keep freed memory, so the next step reuses it without page faults (the measured gain is in
docs/performance.md, "Freed memory is kept"). The cost: the process keeps its peak memory until it
exits. PyTorch's CPU tuning guide recommends jemalloc or tcmalloc for the same reason; this needs neither.
``CONDENSED_KEEP_FREED_MEMORY=0`` turns it off.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from functools import cache

M_TRIM_THRESHOLD = -1  # glibc malloc.h: free memory at the top of the heap is returned only above this
M_MMAP_MAX = -4  # glibc malloc.h: how many blocks may be served by mmap (0: none)
TRIM_THRESHOLD = 1 << 30
# The same setting as glibc reads it from the environment at start-up, for a process we do not control
# (benchmarks/versus_official.py gives it to the authors' scripts on request).
KEEP_FREED_ENV = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": str(TRIM_THRESHOLD)}


@cache
def keep_freed_memory() -> bool:
    """Configure glibc (once per process) to keep freed memory; True when it was applied."""
    if os.environ.get("CONDENSED_KEEP_FREED_MEMORY", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):  # not glibc (e.g. musl has no mallopt)
        return False
    return bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
