"""Request bodies at the perimeter: the REST key is checked before a body byte is read, and
every body is capped.

:class:`BodyLimitMiddleware` looks a request's path up in a table of :class:`BodyLimit` rows
(first match wins; a row matches its path and everything under it):

- REST (``/flyer``, ``/flyer/...``): ``X-API-Key`` first (429 while the address is locked
  out, 403 for a missing or wrong key, a wrong key counting as a failed login), then 64 KB.
- ``/gradio_api/upload``: Gradio's file limit plus multipart overhead.
- everything else (Gradio's ``queue/join``, ``call/*``, ``/login``...): 1 MB.

A body is refused with 413 when its ``Content-Length`` is over the cap, before it is read, and
when a body sent without one (chunked) grows past the cap while it is read: the client gets the
413 and the route sees a disconnected client. The route never reads a refused body. Of a body
refused before it was read, up to ``DRAIN_MAX`` declared bytes are read by the server and thrown
away, so that the client, still sending, reliably gets the answer; past that, and for chunked
bodies, the answer closes the connection (a client still sending may then see a reset instead of
the answer: the price of not reading 100 MB).

(Starlette's ``RequestBodyLimitMiddleware`` refuses only once the route reads, and by raising
from ``receive``, which a route may turn into another status; this answers before the route.)
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

from .asgi import send_json
from .auth import (
    API_KEY_HEADER,
    ASGIApp,
    FailureCounter,
    KeyChecker,
    Message,
    Receive,
    Scope,
    Send,
    lockout_message,
)

__all__ = [
    "DEFAULT_MAX_BODY",
    "DRAIN_MAX",
    "MULTIPART_OVERHEAD",
    "REST_MAX_BODY",
    "BodyLimit",
    "BodyLimitMiddleware",
    "parse_size",
    "studio_limits",
]

logger = logging.getLogger(__name__)

KB = 1024
MB = 1024 * KB

REST_MAX_BODY = 64 * KB
"""The REST contract's JSON bodies are a few hundred bytes; 64 KB leaves room for long text."""
DEFAULT_MAX_BODY = 1 * MB
"""Gradio's JSON routes (queue/join, call/*) carry form values and file references only."""
MULTIPART_OVERHEAD = 64 * KB
"""Boundaries, part headers and form fields around one uploaded file."""
DRAIN_MAX = 4 * MB
"""A refused body of at most this many declared bytes is read and discarded (by uvicorn, after
the answer) instead of closing the connection under a client still sending, whose kernel would
then answer with a reset that can swallow the answer."""

_UNITS = {"b": 1, "kb": KB, "mb": MB, "gb": 1024 * MB}


@dataclass(frozen=True)
class BodyLimit:
    """One row of the table: requests to ``path`` (and below it) carry at most ``max_bytes``."""

    path: str
    """``"/flyer"`` matches ``/flyer`` and ``/flyer/...``; ``""`` matches every path."""
    max_bytes: int
    needs_key: bool = False
    """Check ``X-API-Key`` (with the login throttle) before anything else."""
    too_large: str = ""
    """The 413's ``detail``; empty: a sentence built from ``max_bytes``."""

    def matches(self, path: str) -> bool:
        return not self.path or path == self.path or path.startswith(self.path.rstrip("/") + "/")

    def message(self) -> str:
        return self.too_large or (
            f"The request body is too large: this address accepts at most "
            f"{_shown(self.max_bytes)}."
        )


def _shown(size: int) -> str:
    if size >= MB and size % MB == 0:
        return f"{size // MB} MB"
    if size >= KB and size % KB == 0:
        return f"{size // KB} KB"
    return f"{size} bytes"


def parse_size(size: str | int) -> int:
    """Bytes in ``"25mb"``, ``"64 KB"`` or ``1024``; units are powers of 1024, as Gradio's
    ``max_file_size`` reads them."""
    if isinstance(size, int):
        return size
    text = size.replace(" ", "").lower()
    digits = len(text) - len(text.lstrip("0123456789"))
    unit = text[digits:] or "b"
    if not digits or unit not in _UNITS:
        raise ValueError(f"not a size: {size!r} (write e.g. 25mb, 64kb or a number of bytes)")
    return int(text[:digits]) * _UNITS[unit]


def studio_limits(max_upload: str | int) -> tuple[BodyLimit, ...]:
    """The studio's table: REST 64 KB behind the key, uploads ``max_upload`` plus multipart
    overhead, every other body 1 MB."""
    upload = parse_size(max_upload)
    return (
        BodyLimit("/flyer", REST_MAX_BODY, needs_key=True,
                  too_large=f"The request body is too large: POST /flyer accepts at most "
                            f"{_shown(REST_MAX_BODY)} of JSON."),
        BodyLimit("/gradio_api/upload", upload + MULTIPART_OVERHEAD,
                  too_large=f"The upload is too large: files may be at most {_shown(upload)}."),
        BodyLimit("", DEFAULT_MAX_BODY),
    )


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _route_path(scope: Scope) -> str:
    """The path routes see (Starlette strips ``root_path`` the same way)."""
    path = str(scope.get("path") or "/")
    root = str(scope.get("root_path") or "")
    if root and path.startswith(root):
        return path[len(root):] or "/"
    return path


def _address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def _body_size(scope: Scope) -> int | None:
    """The declared body size: Content-Length, 0 without a body, None when chunked."""
    declared = _header(scope, b"content-length")
    if declared is not None:
        return int(declared) if declared.strip().isdigit() else None
    return None if _header(scope, b"transfer-encoding") is not None else 0


async def _answer(send: Send, status: int, detail: str, *, close: bool,
                  extra: Sequence[tuple[bytes, bytes]] = ()) -> None:
    """A JSON ``{"detail": ...}`` answer; ``close`` ends the connection, so that nothing more
    of the request body is read."""
    await send_json(send, status, detail, [*([(b"connection", b"close")] if close else []), *extra])


class BodyLimitMiddleware:
    """ASGI middleware: REST key check before the body, then the body caps of ``limits``."""

    def __init__(
        self,
        app: ASGIApp,
        checker: KeyChecker,
        throttle: FailureCounter | None,
        limits: Sequence[BodyLimit],
    ) -> None:
        self.app = app
        self.checker = checker
        self.throttle = throttle
        self.limits = tuple(limits)

    def limit_for(self, path: str) -> BodyLimit | None:
        return next((row for row in self.limits if row.matches(path)), None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = _route_path(scope)
        limit = self.limit_for(path)
        if limit is None:
            await self.app(scope, receive, send)
            return
        size = _body_size(scope)
        close = size is None or size > DRAIN_MAX  # see DRAIN_MAX
        if limit.needs_key and not await self._key_ok(scope, path, send, close):
            return
        if size is None and _header(scope, b"content-length") is not None:
            await _answer(send, 400, "Content-Length must be a number of bytes.", close=True)
            return
        if size is not None and size > limit.max_bytes:
            logger.info("%s %r refused for %s: body of %d bytes over %d",
                        scope.get("method"), path, _address(scope), size, limit.max_bytes)
            await _answer(send, 413, limit.message(), close=close)
            return
        await self._capped(scope, receive, send, limit)

    async def _key_ok(self, scope: Scope, path: str, send: Send, close: bool) -> bool:
        """The REST key check of :func:`studio.auth.require_api_key`, done before the body."""
        address = _address(scope)
        method = scope.get("method")
        if self.throttle is not None:
            remaining = self.throttle.locked_for(address)
            if remaining > 0:
                logger.warning("REST %s %r refused for %s: locked out", method, path, address)
                retry = str(math.ceil(remaining)).encode("ascii")
                await _answer(send, 429, lockout_message(remaining), close=close,
                              extra=[(b"retry-after", retry)])
                return False
        # Decoded as latin-1, as Starlette's request.headers does for require_api_key.
        supplied = _header(scope, API_KEY_HEADER.lower().encode("ascii"))
        if self.checker.matches(supplied):
            return True
        if supplied is None:
            logger.info("REST %s %r refused for %s: no %s", method, path, address,
                        API_KEY_HEADER)
            await _answer(send, 403, f"Missing {API_KEY_HEADER} header.", close=close)
            return False
        logger.warning("REST %s %r refused for %s: wrong %s", method, path, address,
                       API_KEY_HEADER)
        if self.throttle is not None and self.throttle.record_failure(address):
            logger.warning("too many wrong keys from %s: locked out", address)
        await _answer(send, 403, f"Wrong {API_KEY_HEADER}.", close=close)
        return False

    async def _capped(self, scope: Scope, receive: Receive, send: Send, limit: BodyLimit) -> None:
        """Run the app, counting the body's bytes as it reads them; past the cap the client
        gets 413 and the app a disconnect (whatever it answers then is dropped)."""
        received = 0
        started = False
        cut = False

        async def counting_receive() -> Message:
            nonlocal received, cut
            if cut:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] != "http.request":
                return message
            received += len(message.get("body", b""))
            if received <= limit.max_bytes:
                return message
            cut = True
            logger.info("%s %r refused for %s: body over %d bytes", scope.get("method"),
                        _route_path(scope), _address(scope), limit.max_bytes)
            if not started:
                await _answer(send, 413, limit.message(), close=True)  # the rest is unbounded
            return {"type": "http.disconnect"}

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if cut:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not cut:
                raise
            # The app tripped over the disconnect we gave it; the client already has its 413.
