"""Keep a long-running studio's heap from fragmenting (glibc).

glibc raises its mmap threshold each time a large block allocated by mmap is freed, up to
32 MB, so after the first few PNG encodings (1-4 MB buffers) every later one comes from the
heap, between the store's long-lived backgrounds, and the freed space cannot go back to the
system: measured through the Gradio door (bench/bench_store.py), 3,000 stored flyers took
726 MB of RSS instead of about 500 MB. Fixing the threshold at 128 KiB (``mallopt``, the same as
``MALLOC_MMAP_THRESHOLD_=131072``) keeps large temporaries in mmap, returned when freed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

__all__ = ["MMAP_THRESHOLD", "fix_mmap_threshold"]

logger = logging.getLogger(__name__)

MMAP_THRESHOLD = 128 * 1024
_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number


def fix_mmap_threshold(threshold: int = MMAP_THRESHOLD) -> bool:
    """Fix glibc's mmap threshold at ``threshold`` bytes for this process; False where the C
    library is not glibc (nothing changed)."""
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    done = bool(mallopt(_M_MMAP_THRESHOLD, threshold))
    if not done:
        logger.warning("could not set the mmap threshold (mallopt refused %d)", threshold)
    return done
