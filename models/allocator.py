"""Keep freed memory in the process: glibc ``malloc`` settings for the torch model stages.

With glibc's defaults, a large block (above the mmap threshold, which adapts up to 32 MiB) is
mapped on allocation and unmapped when freed, and free memory at the top of the heap is handed
back to the kernel. A 3D CNN's activations and the heatmap views are such blocks, allocated anew
on every batch: each batch then page-faults them in again, and the kernel zeroes every page. On
this project's 2-core CPU that made the shipped classifier's forward pass 2.5× slower and rendering
its test views 5× slower, mostly in system time (``benchmarks/allocator.py`` measures it).

:func:`keep_freed_memory` raises both thresholds, so freed blocks stay in the heap for the next
batch. The process's resident memory then stays at its peak instead of shrinking between
batches: right for a batch worker that processes one batch after another. It is called where
the model stages start: the CLI and the RunInference handlers' ``load_model``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
"""``mallopt`` parameters (glibc ``malloc.h``)."""

MMAP_THRESHOLD = 1 << 30
"""Blocks below 1 GiB come from the heap."""
TRIM_THRESHOLD = (1 << 31) - 1
"""Free memory at the top of the heap is kept up to 2 GiB (the largest ``int``)."""


@functools.cache
def keep_freed_memory() -> bool:
    """Set the thresholds for this process, once; False where the C library is not glibc."""
    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt if name else None
    except (OSError, AttributeError):
        mallopt = None
    if mallopt is None:
        log.debug("no glibc mallopt here; the allocator keeps its defaults")
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
