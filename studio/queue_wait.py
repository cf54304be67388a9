"""How long a job waited in Gradio's queue, and refusing one that waited too long.

Gradio keeps the time an event joined its queue on a private object, so the studio records it
itself: :class:`QueueClock`, an ASGI middleware, stamps every ``POST .../gradio_api/queue/join``
request's scope state with the time it arrived. Gradio hands that same request to the handler
(``gr.Request.request``), so a handler can tell how long it waited for its turn and, past
``FLYER_QUEUE_MAX_WAIT``, refuse with :class:`pipeline.errors.Busy` instead of starting work the
user has long given up on. Jobs behind it then get their turn at once, so no one waits much
longer than the limit plus one running job.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from pipeline.errors import Busy

__all__ = ["QUEUED_AT", "QueueClock", "QueueWait", "waited_seconds"]

QUEUED_AT = "flyer_queued_at"
"""Key in the join request's scope state: ``time.monotonic()`` when it arrived."""
_JOIN_SUFFIX = "/gradio_api/queue/join"


class QueueClock:
    """ASGI middleware: stamp each request joining Gradio's queue with its arrival time."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] == "http" and scope.get("method") == "POST"
                and str(scope.get("path", "")).endswith(_JOIN_SUFFIX)):
            scope.setdefault("state", {})[QUEUED_AT] = time.monotonic()
        await self.app(scope, receive, send)


def waited_seconds(request: Any) -> float | None:
    """Seconds since the ``gr.Request``'s job joined the queue; None when unknown (an unqueued
    call, or no request)."""
    http = getattr(request, "request", None) if request is not None else None
    scope = getattr(http, "scope", None)
    if not isinstance(scope, dict):
        return None
    state = scope.get("state")
    joined = state.get(QUEUED_AT) if isinstance(state, dict) else None
    if not isinstance(joined, float):
        return None
    return time.monotonic() - joined


class QueueWait:
    """Refuse a job that waited more than ``max_seconds`` for its turn."""

    def __init__(self, max_seconds: float) -> None:
        self.max_seconds = max_seconds

    def check(self, request: Any) -> None:
        """Raise :class:`Busy` when ``request``'s job waited too long."""
        waited = waited_seconds(request)
        if waited is not None and waited > self.max_seconds:
            raise Busy()
