"""glibc's allocator, where the C library is glibc: ``malloc_trim`` and ``mallopt``.

The studio's process applies its heap policy with it (``studio/memory.py``, where the
measurements are), each composing process (``pipeline/renderer.py``) trims its heap every few
flyers the same way, and their fork server caps their arenas (``pipeline/_forkserver.py``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
from typing import Any

__all__ = ["M_ARENA_MAX", "M_MMAP_THRESHOLD", "M_TRIM_THRESHOLD", "glibc", "limit_arenas"]

# glibc's mallopt parameter numbers (malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8


def glibc() -> Any | None:
    """The C library's handle when it is glibc (it has ``malloc_trim`` and ``mallopt``), else
    None: musl, macOS and Windows keep their own allocator's behaviour."""
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.mallopt.restype = ctypes.c_int
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        libc.malloc_trim.restype = ctypes.c_int
    except (OSError, AttributeError):
        return None
    return libc


def limit_arenas(arenas: int) -> bool:
    """At most ``arenas`` malloc arenas in this process from now on (threads that start later
    share them; call it before starting threads) and in processes forked from it. False off
    glibc or when glibc refuses."""
    libc = glibc()
    return libc is not None and bool(libc.mallopt(M_ARENA_MAX, arenas))
