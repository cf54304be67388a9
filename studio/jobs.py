"""The generations running now, each with its own cancel event, so that cancelling one stops
that one's work on the server and nobody else's.

Gradio cancels an event (``POST /gradio_api/cancel`` from ``gradio_client``'s ``job.cancel()``,
or the UI's Cancel button, whose ``cancels=`` makes the browser send the same request) by
cancelling the asyncio task that awaits the handler. A synchronous handler would keep running
in its worker thread, and Stable Diffusion would keep painting. :meth:`Jobs.run` runs the work in
a thread and turns the task's cancellation into the job's cancel event, which
:meth:`pipeline.service.FlyerService.generate` and the backend watch.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import TypeVar

import anyio.to_thread

__all__ = ["Jobs"]

T = TypeVar("T")


class Jobs:
    """Running jobs by Gradio session. Thread-safe; one per app."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[str, set[threading.Event]] = {}

    async def run(self, session: str | None, work: Callable[[threading.Event], T]) -> T:
        """``work(cancel)`` in a worker thread (the pool Gradio's own handlers use); cancelling
        the awaiting task returns at once and sets ``cancel`` for the thread to stop on."""
        key = session or ""
        cancel = threading.Event()
        with self._lock:
            self._running.setdefault(key, set()).add(cancel)
        try:
            return await anyio.to_thread.run_sync(work, cancel, abandon_on_cancel=True)
        except asyncio.CancelledError:
            cancel.set()
            raise
        finally:
            with self._lock:
                events = self._running.get(key, set())
                events.discard(cancel)
                if not events:
                    self._running.pop(key, None)

    def cancel(self, session: str | None) -> int:
        """Cancel the session's running jobs; return how many. Without a session: none."""
        if not session:
            return 0
        with self._lock:
            events = list(self._running.get(session or "", ()))
        for event in events:
            event.set()
        return len(events)

    def running(self, session: str | None) -> int:
        with self._lock:
            return len(self._running.get(session or "", ()))
