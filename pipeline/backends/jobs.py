"""Jobs as handles: ``start_job`` returns a :class:`PaintJob` that reports its progress, can be
cancelled on its own (its own cancel event: cancelling it never touches another job) and
hands back the :class:`~.base.Painting` or the ``BackendError``.

The service runs ``generate`` in the caller's thread with the caller's event; a handle is for
callers that want to start work and come back to it (scripts, a job registry, benchmarks).
"""

from __future__ import annotations

import threading

from ..errors import BackendError, BackendTimeout
from .base import ImageBackend, Painting, PaintRequest, ProgressCallback

__all__ = ["PaintJob", "start_job"]


class PaintJob:
    """One running (or finished) batch on a backend."""

    def __init__(self, backend: ImageBackend, request: PaintRequest,
                 progress: ProgressCallback | None = None,
                 cancel: threading.Event | None = None) -> None:
        self.backend = backend
        self.request = request
        self._cancel = cancel if cancel is not None else threading.Event()
        self._listener = progress
        self._lock = threading.Lock()
        self._progress: tuple[float, str] = (0.0, "queued")
        self._done = threading.Event()
        self._painting: Painting | None = None
        self._error: BackendError | None = None
        self._thread = threading.Thread(target=self._run, name=f"paint-{backend.name}",
                                        daemon=True)

    def _report(self, fraction: float, message: str) -> None:
        with self._lock:
            self._progress = (fraction, message)
        if self._listener is not None:
            self._listener(fraction, message)

    def _run(self) -> None:
        try:
            self._painting = self.backend.generate(self.request, self._report, self._cancel)
        except BackendError as exc:
            self._error = exc
        finally:
            self._done.set()

    @property
    def progress(self) -> tuple[float, str]:
        """The latest (fraction, message) reported."""
        with self._lock:
            return self._progress

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        """Stop this job (and only this one); ``result`` then raises BackendCancelled."""
        self._cancel.set()

    def done(self) -> bool:
        return self._done.is_set()

    def result(self, timeout: float | None = None) -> Painting:
        """Wait for the painting; raise the job's BackendError (BackendTimeout when ``timeout``
        seconds pass first; the job goes on)."""
        if not self._done.wait(timeout):
            raise BackendTimeout(f"The {self.backend.name} job is still painting after "
                                 f"{timeout:g} s.")
        if self._error is not None:
            raise self._error
        assert self._painting is not None
        return self._painting


def start_job(backend: ImageBackend, request: PaintRequest,
              progress: ProgressCallback | None = None,
              cancel: threading.Event | None = None) -> PaintJob:
    """Start painting ``request`` on ``backend`` in a thread; return its handle."""
    job = PaintJob(backend, request, progress, cancel)
    job._thread.start()
    return job
