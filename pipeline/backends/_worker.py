"""Run one blocking server call in a worker thread while the caller polls progress and watches
the job's cancel event; on cancel the backend's ``interrupt`` runs and the caller stops waiting.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

from ..errors import BackendCancelled

__all__ = ["CANCELLED", "call_cancellable"]

T = TypeVar("T")
CANCELLED = "Generation cancelled."
_GRACE_SECONDS = 5.0
_WATCH_SECONDS = 0.02


def call_cancellable(
    call: Callable[[], T],
    cancel: threading.Event,
    *,
    poll_interval: float,
    tick: Callable[[], None] | None = None,
    interrupt: Callable[[], None] | None = None,
    name: str = "backend-call",
) -> T:
    """``call()`` in a thread; every ``poll_interval`` s ``tick()`` (progress); when ``cancel``
    is set first, ``interrupt()`` (tell the server) and raise BackendCancelled. ``call``'s own
    exception is raised here, in the caller's thread."""
    if cancel.is_set():  # nothing was sent
        raise BackendCancelled(CANCELLED)
    outcome: dict[str, object] = {}
    finished = threading.Event()

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:  # handed to the calling thread
            outcome["error"] = exc
        finally:
            finished.set()

    worker = threading.Thread(target=run, name=name, daemon=True)
    worker.start()
    next_tick = time.monotonic() + poll_interval
    while not finished.wait(_WATCH_SECONDS) and not cancel.is_set():
        if tick is not None and time.monotonic() >= next_tick:
            tick()
            next_tick = time.monotonic() + poll_interval
    if cancel.is_set() and not finished.is_set():
        if interrupt is not None:  # the server stops, so the call ends soon: wait a little
            interrupt()
            worker.join(_GRACE_SECONDS)
        raise BackendCancelled(CANCELLED)
    worker.join()
    if "error" in outcome:
        error = outcome["error"]
        assert isinstance(error, BaseException)
        raise error
    return outcome["value"]  # type: ignore[return-value]
