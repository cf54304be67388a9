"""The one pool of worker threads that composing and encoding share, sized for the machine.

Pillow's resampler and zlib drop the GIL, so the pipeline resizes a background in strips, a logo,
and deflates a PNG in slices on other cores while the calling thread typesets. Before, each
composition and each PNG made (and tore down) its own thread pool; now they all lend
:func:`work_pool`, one per process: thread count is the usable cores, whatever the number of
concurrent requests.

Only *leaf* work goes to the pool: a task submitted here never waits for another task of the
pool (so a small pool cannot deadlock). The pool starts its threads on first use. A server holds
it for its lifetime (:meth:`WorkPool.held`, in the lifespan); when the last holder lets go, the
threads are stopped and joined (work already submitted finishes first); a later submit starts
fresh ones. This is the one piece of process-wide state in ``pipeline``: threads belong to the
process, not to a request or a service.

For the same reason OpenCV's own thread pool is set to one thread (:func:`one_opencv_thread`)
by a server at start and whenever this pool starts: the pipeline calls OpenCV (the
background's enlargement, the saliency and face analysis, the offline painter) from these
threads and from request threads, already one per core.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["WorkPool", "cpu_quota", "machine_workers", "one_opencv_thread", "work_pool"]

T = TypeVar("T")


def machine_workers(cgroup: Path = Path("/sys/fs/cgroup")) -> int:
    """The usable cores: the CPU affinity where the platform tells it, bounded by a
    container's CPU quota (``docker run --cpus 2`` on a 16-core host: 2), rounded up."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    quota = cpu_quota(cgroup)
    if quota is not None:
        cores = min(cores, math.ceil(quota))
    return max(1, cores)


def cpu_quota(root: Path = Path("/sys/fs/cgroup")) -> float | None:
    """CPUs the cgroup quota allows this process (cgroup v2 ``cpu.max``, else v1
    ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``), or None when there is no quota."""
    for v2 in (root / "cpu.max", root / "unified" / "cpu.max"):
        try:
            quota, _, period = v2.read_text().strip().partition(" ")
        except OSError:
            continue
        if quota == "max":
            return None
        try:
            return int(quota) / int(period or "100000")
        except ValueError:
            return None
    try:
        quota_us = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period_us = int((root / "cpu" / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota_us / period_us if quota_us > 0 and period_us > 0 else None


class WorkPool(Executor):
    """A thread pool started on first use and stopped when its last holder lets go."""

    def __init__(self, max_workers: int | None = None, name: str = "flyer-work") -> None:
        self.max_workers = max_workers or machine_workers()
        self.name = name
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._holders = 0

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        with self._lock:
            if self._pool is None:
                one_opencv_thread()
                self._pool = ThreadPoolExecutor(self.max_workers, thread_name_prefix=self.name)
            return self._pool.submit(fn, *args, **kwargs)

    def resize(self, max_workers: int) -> None:
        """Use ``max_workers`` threads from now on (the current ones, if any, finish their
        work and stop): a composing worker process's share of the cores
        (``renderer.worker_threads``)."""
        if max_workers < 1:
            raise ValueError(f"a work pool needs at least one thread, not {max_workers}")
        self.shutdown(wait=True)
        self.max_workers = max_workers

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop the threads (after the work already submitted, with ``wait``); the next
        ``submit`` starts new ones."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=wait, cancel_futures=cancel_futures)

    @property
    def running(self) -> bool:
        """Whether the pool has threads now."""
        with self._lock:
            return self._pool is not None

    @contextlib.contextmanager
    def held(self) -> Iterator[WorkPool]:
        """Hold the pool for a server's lifetime; the last holder's exit stops its threads."""
        with self._lock:
            self._holders += 1
        try:
            yield self
        finally:
            with self._lock:
                self._holders -= 1
                last = self._holders == 0
            if last:
                self.shutdown()

    def __exit__(self, *exc: object) -> None:
        """Leaving ``with work_pool() as pool:`` does not stop the shared threads (an
        executor's own ``with`` would): the pool outlives each composition."""


_SHARED = WorkPool()


def work_pool() -> WorkPool:
    """The process's one pool of worker threads."""
    return _SHARED


def one_opencv_thread() -> None:
    """Run OpenCV's work (the background's enlargement, the subject analysis, the offline
    painter) on the calling thread only: requests and this pool's threads already run side
    by side on every core, so OpenCV's own pool of threads (one per core) adds hand-offs
    and spin-waits, not speed. On the loaded 2-core machine ``see.analyse`` took a median
    30 ms of CPU with one thread and 36 ms with OpenCV's two, and the enlargement of a post
    16 ms instead of 6. Process-wide: a server calls it at start, and the pool when it
    starts its threads."""
    import cv2

    cv2.setNumThreads(1)
