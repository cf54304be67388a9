"""Default deny: no route answers without a session, except the few that must.

``gr.mount_gradio_app(auth=...)`` protects most Gradio routes, but a sweep of the running app
found some that answer strangers anyway: ``/gradio_api/heartbeat/<id>`` (an endless stream
per request), ``/gradio_api/app_id``, ``/gradio_api/token``, ``/gradio_api/user``,
``/gradio_api/startup-events``, ``/gradio_api/runs``. Rather than list the open ones (a Gradio
upgrade adds more), :class:`SessionGate` lists the public ones and asks every other request for
a valid Gradio session cookie. The REST routes and ``/mcp`` carry their own key check.
"""

from __future__ import annotations

from collections.abc import Mapping
from http.cookies import CookieError, SimpleCookie
from typing import Any

from .asgi import ASGIApp, Receive, Scope, Send, send_json

__all__ = ["KEYED_PATHS", "PUBLIC_PATHS", "PUBLIC_PREFIXES", "SessionGate", "session_token"]


PUBLIC_PATHS = frozenset({
    "", "/",  # the login page (before login Gradio serves only the form)
    "/login", "/login/", "/logout", "/logout/",
    "/healthz",
    "/favicon.ico", "/theme.css", "/gradio_api/theme.css", "/robots.txt", "/manifest.json",
    "/pwa_icon",
})
"""Paths anyone may reach: the login page and form, the health check, front-end files."""

PUBLIC_PREFIXES = ("/assets/", "/static/", "/svelte/", "/pwa_icon/")
"""Front-end code and icons, the same for everyone."""

REST_PREFIXES = ("/flyer",)
"""The seed's REST contract: checked by ``studio.auth.require_api_key`` (X-API-Key)."""

KEYED_PATHS = frozenset({"/mcp"})
"""Routes with their own key check (``studio.mcp_endpoint``: X-API-Key or a Bearer token,
404 while FLYER_MCP is off)."""


def session_token(headers: list[tuple[bytes, bytes]], cookie_id: str) -> str | None:
    """The Gradio session token a request carries (either of Gradio's two cookies)."""
    for name, value in headers:
        if name.lower() != b"cookie":
            continue
        try:
            jar = SimpleCookie(value.decode("latin-1"))
        except CookieError:
            continue
        for key in (f"access-token-{cookie_id}", f"access-token-unsecure-{cookie_id}"):
            if key in jar and jar[key].value:
                return jar[key].value
    return None


class SessionGate:
    """ASGI middleware: 401 for any non-public path without a live Gradio session.

    ``gradio_app`` is read lazily from ``app_state.gradio_app`` (set by ``create_server`` after
    mounting), so the gate can be added before the Blocks are mounted.
    """

    def __init__(self, app: ASGIApp, app_state: Any) -> None:
        self.app = app
        self.app_state = app_state

    def _public(self, path: str) -> bool:
        return (path in PUBLIC_PATHS or path in KEYED_PATHS or path.startswith(PUBLIC_PREFIXES)
                or path == REST_PREFIXES[0] or path.startswith(REST_PREFIXES[0] + "/"))

    def _signed_in(self, scope: Scope) -> bool:
        gradio_app = getattr(self.app_state, "gradio_app", None)
        if gradio_app is None:
            return False
        tokens: Mapping[str, str] = gradio_app.tokens
        token = session_token(list(scope.get("headers", [])), str(gradio_app.cookie_id))
        return token is not None and token in tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or self._public(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        if self._signed_in(scope):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        await send_json(send, 401, "Not authenticated: log in with the studio's key.")
