"""Is the image backend able to paint right now? One small function the studio polls.

``backend_health(backend)`` answers with a :class:`Health`: up, or down with a short status
("unreachable", "not answering", "refuses our credentials", "not working") and the backend's own
message. A backend that offers ``check()`` (the issue-11 contract: return when it can paint,
raise a ``BackendError`` otherwise; a server pool checks its servers) is asked directly. For the
others: the procedural painter is always up; an AUTOMATIC1111-compatible server is asked
``GET /sdapi/v1/options``, which answers only with ``--api`` and the right ``--api-auth``
credentials, so "up" means a generation can be sent.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from .backends import ImageBackend
from .backends._a1111_errors import public_url, status_error, transport_error
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


def _probe_automatic1111(base_url: str, client: httpx.Client | None,
                         auth: tuple[str, str] | None, timeout: float) -> None:
    """``GET /sdapi/v1/options``; raises the backend's own errors (same wording)."""
    where = public_url(base_url)
    password = auth[1] if auth else httpx.URL(base_url).password or None
    path = "/sdapi/v1/options"
    owned = client is None
    http = client if client is not None else httpx.Client()
    try:
        response = http.get(base_url.rstrip("/") + path, timeout=httpx.Timeout(timeout),
                            auth=httpx.BasicAuth(*auth) if auth else httpx.USE_CLIENT_DEFAULT)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise transport_error(exc, where, timeout, timeout, password) from None
    finally:
        if owned:
            http.close()
    if response.status_code >= 400:
        raise status_error(response, path, where, password)


def backend_health(
    backend: ImageBackend,
    client: httpx.Client | None = None,
    *,
    auth: tuple[str, str] | None = None,
    timeout: float = HEALTH_TIMEOUT,
    clock: Callable[[], float] = time.time,
) -> Health:
    """Check ``backend`` now (blocking, at most about ``timeout`` seconds for a server).

    ``client`` and ``auth`` (the ``--api-auth`` user and password) are used for an
    AUTOMATIC1111-compatible server; a backend with its own ``check()`` uses its own.
    """
    server = getattr(backend, "server", None) or getattr(backend, "public_url", None)
    server = server if isinstance(server, str) else None
    try:
        check = getattr(backend, "check", None)
        if callable(check):
            check()
        elif backend.name != "procedural":
            base_url = getattr(backend, "base_url", None)
            if isinstance(base_url, str) and base_url:
                _probe_automatic1111(base_url, client, auth, timeout)
    except BackendError as exc:
        return Health(backend.name, False, _status(exc), str(exc), server, clock())
    return Health(backend.name, True, "up", "", server, clock())
