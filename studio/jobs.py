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

from pipeline.app_api import FlyerApp

__all__ = ["Jobs"]

T = TypeVar("T")


class Jobs:
    """Runs jobs in worker threads, registered with the application API's job registry
    (:meth:`pipeline.app_api.FlyerApp.open_job`) under their Gradio session. One per app."""

    def __init__(self, app: FlyerApp) -> None:
        self.app = app

    async def run(self, session: str | None, work: Callable[[threading.Event], T]) -> T:
        """``work(cancel)`` in a worker thread (the pool Gradio's own handlers use); cancelling
        the awaiting task returns at once and sets ``cancel`` for the thread to stop on."""
        with self.app.open_job(session) as job:
            try:
                return await anyio.to_thread.run_sync(work, job.cancel, abandon_on_cancel=True)
            except asyncio.CancelledError:
                self.app.cancel(job)
                raise

    def cancel(self, session: str | None) -> int:
        """Cancel the session's running jobs; return how many. Without a session: none."""
        return self.app.cancel(session or None)

    def running(self, session: str | None) -> int:
        return self.app.running(session)
