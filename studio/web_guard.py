"""Browser-facing perimeter: which web origins may talk to the studio, and what HTTPS adds.

- :class:`OriginGuardMiddleware` answers 403 to any request whose ``Origin`` header names
  another site than the studio's own address (or one listed in ``FLYER_ALLOWED_ORIGINS``).
  Browsers send ``Origin`` on cross-origin requests and on same-origin POSTs; ``gradio_client``,
  curl and REST clients send none and are not affected. This keeps foreign pages from reading
  ``/config`` with a visitor's cookie and from posting to ``/login``, ``/logout`` or the queue.
- :func:`add_cors` puts Starlette's ``CORSMiddleware`` on the parent app with only the listed
  origins; Gradio's own CORS middleware (which echoes any origin on a public host name) then
  stands aside.
- :class:`SecureTransportMiddleware`: on HTTPS every response carries
  ``Strict-Transport-Security`` and every login cookie is ``Secure; HttpOnly; SameSite=Lax``
  (Gradio sets ``access-token-unsecure-*`` without ``Secure``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware

from pipeline.settings import canonical_origin

from .asgi import ASGIApp, Message, Receive, Scope, Send, send_json

__all__ = [
    "AUTH_COOKIE_PREFIX",
    "HSTS_VALUE",
    "OriginGuardMiddleware",
    "SecureTransportMiddleware",
    "add_cors",
    "own_origins",
    "secure_cookie",
]

logger = logging.getLogger(__name__)


AUTH_COOKIE_PREFIX = "access-token"
"""Gradio's login cookies: ``access-token-{cookie_id}`` and ``access-token-unsecure-{id}``."""
HSTS_VALUE = "max-age=31536000"
"""One year; no ``includeSubDomains``: the studio does not speak for its sibling hosts."""
_HTTP_SCHEME = {"http": "http", "ws": "http", "https": "https", "wss": "https"}


def own_origins(scope: Scope) -> set[str]:
    """The origins this request may legitimately come from: the address it reached (scheme of
    the connection, ``Host`` header) and, behind a proxy, the address the proxy says it served
    (``X-Forwarded-Proto`` / ``X-Forwarded-Host``). A page on another site cannot add those
    headers to a browser's request without a CORS preflight, which this guard refuses."""
    headers = Headers(scope=scope)
    scheme = _HTTP_SCHEME.get(str(scope.get("scheme", "http")), "http")
    host = headers.get("host")
    if not host and scope.get("server"):
        server_host, server_port = scope["server"]
        host = f"{server_host}:{server_port}" if server_port else str(server_host)
    forwarded_scheme = headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    forwarded_host = headers.get("x-forwarded-host", "").split(",")[0].strip()
    candidates = [f"{scheme}://{host}"] if host else []
    if forwarded_scheme in ("http", "https") and (forwarded_host or host):
        candidates.append(f"{forwarded_scheme}://{forwarded_host or host}")
    elif forwarded_host:
        candidates.append(f"{scheme}://{forwarded_host}")
    return {o for o in (canonical_origin(c) for c in candidates) if o is not None}


class OriginGuardMiddleware:
    """403 for any HTTP request or WebSocket whose ``Origin`` is neither the request's own
    address nor one of ``allowed``; requests without ``Origin`` pass."""

    def __init__(self, app: ASGIApp, allowed: Iterable[str] = ()) -> None:
        self.app = app
        self.allowed = frozenset(o for o in (canonical_origin(a) for a in allowed) if o)

    def permits(self, scope: Scope) -> bool:
        raw = Headers(scope=scope).get("origin")
        if raw is None:
            return True
        origin = canonical_origin(raw)  # "null" and anything malformed: None, refused
        return origin is not None and (origin in self.allowed or origin in own_origins(scope))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or self.permits(scope):
            await self.app(scope, receive, send)
            return
        origin = Headers(scope=scope).get("origin", "")
        logger.warning(
            "refused a %s %s from foreign origin %r",
            scope.get("method", "WEBSOCKET"), scope.get("path"), origin[:100],
        )
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        await send_json(
            send, 403,
            "Cross-origin request refused: this page is not the studio's own address. "
            "An administrator can allow another site with FLYER_ALLOWED_ORIGINS.",
            [(b"vary", b"Origin")],
        )


def add_cors(app: FastAPI, origins: Iterable[str]) -> None:
    """Credentialed CORS for exactly ``origins`` (none by default). Being Starlette's own
    ``CORSMiddleware`` on the parent app, it also makes Gradio's CORS middleware defer."""
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(origins),
        allow_credentials=True,
        allow_methods=["*"],
        allow_headers=["*"],
    )


def secure_cookie(set_cookie: str) -> str:
    """A ``Set-Cookie`` value made ``Secure``; a login cookie also ``HttpOnly`` and
    ``SameSite=Lax`` (in place of Gradio's ``None``)."""
    parts = [p.strip() for p in set_cookie.split(";")]
    name = parts[0].split("=", 1)[0].strip()
    is_auth = name.startswith(AUTH_COOKIE_PREFIX)
    dropped = {"secure", "httponly", "samesite"} if is_auth else {"secure"}
    kept = [parts[0]] + [
        p for p in parts[1:] if p and p.split("=", 1)[0].strip().lower() not in dropped
    ]
    kept.append("Secure")
    if is_auth:
        kept += ["HttpOnly", "SameSite=Lax"]
    return "; ".join(kept)


class SecureTransportMiddleware:
    """On HTTPS connections: ``Strict-Transport-Security`` on every response and
    :func:`secure_cookie` on every ``Set-Cookie``. Plain HTTP passes untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("scheme") != "https":
            await self.app(scope, receive, send)
            return

        async def send_secure(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: list[tuple[bytes, bytes]] = []
                for name, value in message.get("headers", []):
                    if name.lower() == b"set-cookie":
                        value = secure_cookie(value.decode("latin-1")).encode("latin-1")
                    elif name.lower() == b"strict-transport-security":
                        continue
                    headers.append((name, value))
                headers.append((b"strict-transport-security", HSTS_VALUE.encode("ascii")))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_secure)
