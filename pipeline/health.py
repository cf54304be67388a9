"""Is the image backend able to paint right now? One small function the studio polls.

``backend_health(backend)`` answers with a :class:`Health`: up, or down with a short status
("unreachable", "not answering", "refuses our credentials", "not working") and the backend's own
message. A backend that offers ``check()`` (the issue-11 contract: return when it can paint,
raise a ``BackendError`` otherwise; a server pool checks its servers) is asked directly. For the
others (none today) are taken as up. AUTOMATIC1111's ``check()`` asks ``GET
/sdapi/v1/options``, which answers only with ``--api`` and the right ``--api-auth``
credentials, so "up" means a generation can be sent.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from .backends import ImageBackend
from .errors import (
    BackendAuthError,
    BackendError,
    BackendTimeout,
    BackendUnavailable,
)

__all__ = ["HEALTH_TIMEOUT", "Health", "HealthCheck", "backend_health"]

HEALTH_TIMEOUT = 5.0
"""Seconds a health check waits for the server (connect and answer)."""


@dataclass(frozen=True)
class Health:
    """What a health check found."""

    backend: str
    up: bool
    status: str = "up"
    """``up``, or a few words for the header: ``unreachable``, ``not answering``,
    ``refuses our credentials``, ``not working``."""
    problem: str = ""
    """The backend's own message when down (what happened, what to do); no credentials."""
    server: str | None = None
    """The server's public URL (no user:password), None for in-process painters."""
    checked_at: float = 0.0
    """``time.time()`` of the check."""


HealthCheck = Callable[[], Health]
"""A health check bound to its backend (what the studio's monitor calls)."""


def _status(exc: BackendError) -> str:
    if isinstance(exc, BackendAuthError):
        return "refuses our credentials"
    if isinstance(exc, BackendTimeout):
        return "not answering"
    if isinstance(exc, BackendUnavailable):
        return "unreachable"
    return "not working"


def backend_health(
    backend: ImageBackend,
    *,
    clock: Callable[[], float] = time.time,
) -> Health:
    """Check ``backend`` now (blocking, bounded by the backend's own timeouts) through its
    ``check()`` (every backend of the contract has one; a server pool checks its servers)."""
    server = getattr(backend, "server", None) or getattr(backend, "public_url", None)
    server = server if isinstance(server, str) else None
    try:
        check = getattr(backend, "check", None)
        if callable(check):
            check()
    except BackendError as exc:
        return Health(backend.name, False, _status(exc), str(exc), server, clock())
    return Health(backend.name, True, "up", "", server, clock())
