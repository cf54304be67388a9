"""Keep a long-running studio's heap from holding freed memory (glibc), at (near) no CPU cost.

glibc raises its mmap threshold each time a large block allocated by mmap is freed (up to
32 MiB), so after the first few images and PNG buffers (1-6 MB) every later one comes from the
heap, between the store's long-lived backgrounds, and the pages freed there stay resident.

Measured through the Gradio door (bench/bench_store.py, 600 flyers, the server's CPU per flyer;
bench/README.md, "Memory of a full store", has the table, REST's costs and the machine's load):

- glibc's defaults: 558 MB, 7.5 ms of system CPU a flyer;
- the mmap threshold fixed at 128 KiB (the policy before this one): 440 MB, but every
  128 KiB-32 MiB temporary is then a fresh mmap, faulted in and zeroed: 110 ms of system CPU
  (1 MiB: 466 MB, 49 ms);
- at most 2 arenas: 515 MB, no cost; with trimming it changes nothing;
- ``malloc_trim(0)`` after every batch of 5 (every arena's free pages, those between live
  blocks too; 1.5-6 ms a call, plus faulting in again what the next batch reuses): 477 MB for
  18 ms of system CPU a flyer. Past the caches the heap then grows only by what is stored, as
  with the fixed threshold; it stays ~35 MB above it: the last request's freed memory, until
  the next trim. Trimming after every batch of 1 cost REST 32 ms a flyer, every 5 flyers 19.

At 3,000 flyers the Gradio door held 671.7 MB trimmed, 653.9 MB with the fixed threshold (103.5
ms of system CPU a flyer against 17.9): both over the 600 MB target, by the process's and the
caches' fixed costs, not the heap, which grows by the store's ~80 KB a flyer in both.

So the studio trims after the generation that brings the flyers made since the last trim to 5
(:data:`HEAP`): :class:`pipeline.app_api.FlyerApp` calls :meth:`Trimmer.after_generation` in
the worker thread that generated (never on the event loop), whichever door asked. Off glibc
(musl, macOS, Windows) nothing changes.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from pipeline.heap import M_ARENA_MAX, M_MMAP_THRESHOLD, M_TRIM_THRESHOLD, glibc

__all__ = ["HEAP", "HeapPolicy", "Trimmer", "glibc"]

logger = logging.getLogger(__name__)


class Trimmer:
    """Gives the heap's free pages back to the system (``malloc_trim(0)``: every arena, the
    free pages between live blocks too) after the generation that brings the flyers made since
    the last trim to ``every`` (a batch of 5 with ``every`` 5: each generation; batches of 1:
    every 5th). Thread-safe; call :meth:`after_generation` from the worker thread that
    generated, never from the event loop. A no-op off glibc or with ``every`` 0."""

    def __init__(self, every: int, libc: Any | None = None) -> None:
        self.every = every
        self._libc = libc if every > 0 else None
        self._lock = threading.Lock()
        self._count = 0
        self.trims = 0
        """How many times the heap was trimmed."""

    @property
    def active(self) -> bool:
        return self._libc is not None

    def after_generation(self, flyers: int = 1) -> None:
        """``flyers``: how many the generation made (or was asked for)."""
        if self._libc is None:
            return
        with self._lock:
            self._count += max(1, flyers)
            if self._count < self.every:
                return
            self._count = 0
            self.trims += 1
            first = self.trims == 1
        self._libc.malloc_trim(0)  # outside the lock: other threads keep generating
        if first:
            logger.info("heap given back to the system after a generation (malloc_trim, "
                        "every %d flyers)", self.every)


@dataclass(frozen=True)
class HeapPolicy:
    """How the studio's process uses glibc's allocator. None leaves glibc's default."""

    mmap_threshold: int | None = None
    """Fix the mmap threshold (bytes): larger blocks are mmapped and unmapped when freed. Fixing
    it also stops glibc raising it (its default is dynamic: 128 KiB up to 32 MiB)."""
    arena_max: int | None = None
    """At most this many malloc arenas (glibc's default: 8 per core)."""
    trim_threshold: int | None = None
    """Free space at the top of the main heap above which glibc gives it back (bytes)."""
    trim_every: int = 0
    """``malloc_trim(0)`` after the generation that makes this many flyers since the last one
    (0: never)."""

    @classmethod
    def parse(cls, text: str) -> HeapPolicy:
        """``"mmap=131072,arenas=2,trim_threshold=1048576,trim_every=1"`` (any of them; ""
        for glibc's defaults): the benchmarks' way to name a policy."""
        names = {"mmap": "mmap_threshold", "arenas": "arena_max",
                 "trim_threshold": "trim_threshold", "trim_every": "trim_every"}
        values: dict[str, int] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            name, _, value = part.partition("=")
            if name not in names:
                raise ValueError(f"unknown heap setting {name!r}; known: {', '.join(names)}")
            try:
                values[names[name]] = int(value)
            except ValueError:
                raise ValueError(f"heap setting {name}: a whole number, not {value!r}") from None
        return cls(**values)

    def apply(self, libc: Any | None = None) -> Trimmer:
        """Set the allocator's options for this process (once, at start, before the threads
        start) and return the trimmer for :meth:`Trimmer.after_generation`. Off glibc nothing
        changes and the trimmer does nothing."""
        libc = libc if libc is not None else glibc()
        if libc is None:
            return Trimmer(0)
        for number, value in ((M_MMAP_THRESHOLD, self.mmap_threshold),
                              (M_ARENA_MAX, self.arena_max),
                              (M_TRIM_THRESHOLD, self.trim_threshold)):
            if value is not None and not libc.mallopt(number, value):
                logger.warning("mallopt(%d, %d) refused", number, value)
        return Trimmer(self.trim_every, libc)


HEAP = HeapPolicy(trim_every=5)
"""The studio's policy (``flyer-studio serve``): see the module's docstring for the figures."""
