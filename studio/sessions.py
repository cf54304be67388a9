"""Browser login sessions: idle and absolute expiry, POST-only logout, a login page without the API.

Gradio keeps logins in ``App.tokens`` (token -> user name, in memory, forever) and hands the token
out as the cookies ``access-token-{cookie_id}`` and ``access-token-unsecure-{cookie_id}``.
:class:`Sessions` puts a clock on those tokens: a token ends ``idle_s`` after its last request
or ``max_s`` after its login, whichever comes first; an ended token is taken out of Gradio's
table, so Gradio answers 401 (or shows the login page) and the response clears the cookies.
Tokens live in memory only, so a restart (for instance with a new ``API_MASTER_KEY``) ends every
session. With several replicas (FLYER_STORE_URL) sessions stay per process on purpose: the load
balancer keeps each browser on one replica (deploy/nginx.conf), since Gradio's queue and page
state are per process as well; a browser whose replica stops logs in again on another.

:class:`SessionMiddleware` records each login (from ``POST /login``'s ``Set-Cookie``), checks
every request's token, and blanks the API description (``window.gradio_api_info``) that Gradio
embeds in the HTML it serves to visitors who are not logged in. :func:`add_logout_routes` makes
``/logout`` POST-only: a foreign page could otherwise log people out with an ``<img>``.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.datastructures import Headers
from starlette.requests import cookie_parser

from .asgi import ASGIApp, Message, Receive, Scope, Send
from .auth import LOGIN_PATHS
from .web_guard import AUTH_COOKIE_PREFIX

__all__ = [
    "BLANK_API_INFO",
    "GradioTokens",
    "SessionMiddleware",
    "Sessions",
    "add_logout_routes",
    "blank_api_info",
    "clear_cookie",
]


BLANK_API_INFO = b'window.gradio_api_info = {"named_endpoints":{},"unnamed_endpoints":{}};</script>'
_API_INFO = re.compile(rb"window\.gradio_api_info\s*=.*?;</script>", re.DOTALL)
# Gradio's ``toorjson`` escapes "<" inside the JSON, so the first ";</script>" ends it.


class GradioTokens(Protocol):
    """What :class:`Sessions` needs of Gradio's ``App``."""

    tokens: dict[str, str]
    cookie_id: str


@dataclass
class _Session:
    started: float
    last_seen: float


class Sessions:
    """Expiry for Gradio's login tokens; thread-safe. :meth:`attach` the mounted Gradio app
    before the first request."""

    def __init__(
        self, idle_s: float, max_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if idle_s <= 0 or max_s <= 0:
            raise ValueError("idle_s and max_s must be > 0")
        self.idle_s = float(idle_s)
        self.max_s = float(max_s)
        self._clock = clock
        self._lock = threading.Lock()
        self._sessions: dict[str, _Session] = {}
        self._gradio: GradioTokens | None = None

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)

    def attach(self, gradio_app: GradioTokens) -> None:
        self._gradio = gradio_app

    @property
    def gradio(self) -> GradioTokens:
        if self._gradio is None:
            raise RuntimeError("Sessions.attach(gradio_app) was not called")
        return self._gradio

    @property
    def cookie_names(self) -> tuple[str, str]:
        """Gradio's two login cookies, in the order Gradio reads them."""
        cookie_id = self.gradio.cookie_id
        return f"{AUTH_COOKIE_PREFIX}-{cookie_id}", f"{AUTH_COOKIE_PREFIX}-unsecure-{cookie_id}"

    def token_of(self, cookies: Mapping[str, str]) -> str | None:
        """The token Gradio will read from these cookies (``get_current_user``)."""
        secure, unsecure = self.cookie_names
        return cookies.get(secure) or cookies.get(unsecure) or None

    def _expired(self, session: _Session, now: float) -> bool:
        return now - session.last_seen > self.idle_s or now - session.started > self.max_s

    def _revoke_locked(self, token: str) -> None:
        self._sessions.pop(token, None)
        self.gradio.tokens.pop(token, None)

    def begin(self, token: str) -> None:
        """A login just handed out ``token``; ended sessions are swept at the same time."""
        with self._lock:
            now = self._clock()
            for old in [t for t, s in self._sessions.items() if self._expired(s, now)]:
                self._revoke_locked(old)
            self._sessions[token] = _Session(started=now, last_seen=now)

    def check(self, token: str) -> bool:
        """Whether ``token`` is a live login (then this counts as activity). An ended token, or
        one Gradio holds that no login of ours handed out, is revoked."""
        with self._lock:
            now = self._clock()
            session = self._sessions.get(token)
            known = session is not None and token in self.gradio.tokens
            if session is not None and known and not self._expired(session, now):
                session.last_seen = now
                return True
            self._revoke_locked(token)
            return False

    def revoke(self, token: str) -> None:
        with self._lock:
            self._revoke_locked(token)


def clear_cookie(name: str) -> bytes:
    """A ``Set-Cookie`` value that deletes cookie ``name`` (as Gradio's logout does)."""
    return (
        f'{name}=""; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; '
        "HttpOnly; SameSite=lax"
    ).encode("latin-1")


def blank_api_info(page: bytes) -> bytes:
    """``page`` with the API description Gradio embeds replaced by an empty one."""
    return _API_INFO.sub(lambda _: BLANK_API_INFO, page)


def _set_cookie_names(headers: list[tuple[bytes, bytes]]) -> set[str]:
    return {
        value.decode("latin-1").split("=", 1)[0].strip()
        for name, value in headers
        if name.lower() == b"set-cookie"
    }


class SessionMiddleware:
    """Records logins, ends expired sessions and clears their cookies, and keeps the API
    description out of pages served to visitors who are not logged in."""

    def __init__(self, app: ASGIApp, sessions: Sessions) -> None:
        self.app = app
        self.sessions = sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope.get("method") == "POST" and scope.get("path") in LOGIN_PATHS:
            await self.app(scope, receive, self._recording_logins(send))
            return
        cookies = cookie_parser(Headers(scope=scope).get("cookie", ""))
        token = self.sessions.token_of(cookies)
        if token is not None and self.sessions.check(token):
            await self.app(scope, receive, send)
            return
        if token is not None:  # a login that ended (or never was): clear its cookies
            stale = {n for n in cookies if n.startswith(AUTH_COOKIE_PREFIX)}
            send = self._clearing(send, sorted(stale | set(self.sessions.cookie_names)))
        if scope.get("method") in ("GET", "HEAD"):
            send = self._without_api_info(send, head=scope["method"] == "HEAD")
        await self.app(scope, receive, send)

    def _recording_logins(self, send: Send) -> Send:
        secure_name = self.sessions.cookie_names[0]

        async def record(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 200:
                for name, value in message.get("headers", []):
                    if name.lower() != b"set-cookie":
                        continue
                    cookie, _, token = value.decode("latin-1").split(";", 1)[0].partition("=")
                    if cookie.strip() == secure_name and token.strip():
                        self.sessions.begin(token.strip())
            await send(message)

        return record

    @staticmethod
    def _clearing(send: Send, names: list[str]) -> Send:
        async def clear(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                already = _set_cookie_names(headers)
                headers += [(b"set-cookie", clear_cookie(n)) for n in names if n not in already]
                message["headers"] = headers
            await send(message)

        return clear

    @staticmethod
    def _without_api_info(send: Send, head: bool) -> Send:
        start: Message | None = None
        chunks: list[bytes] = []

        async def filtered(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = Headers(raw=list(message.get("headers", [])))
                is_page = headers.get("content-type", "").startswith("text/html")
                # Gradio compresses only paths ending in .html/.js/...; its pages have none.
                if is_page and "content-encoding" not in headers:
                    start = message
                    return
                await send(message)
                return
            if start is None or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = blank_api_info(b"".join(chunks))
            raw = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
            if not head:
                raw.append((b"content-length", str(len(body)).encode("ascii")))
            start["headers"] = raw
            await send(start)
            await send({"type": "http.response.body", "body": body})

        return filtered


def add_logout_routes(app: FastAPI, sessions: Sessions) -> None:
    """``POST /logout`` ends this browser's session, clears its cookies and goes back to the
    login page; ``GET /logout`` (Gradio's, reachable from any foreign page) answers 405."""

    @app.get("/logout", include_in_schema=False)
    def logout_by_get() -> Response:
        return JSONResponse(
            {"detail": "Log out with POST /logout."}, status_code=405, headers={"Allow": "POST"}
        )

    @app.post("/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        token = sessions.token_of(request.cookies)
        if token is not None:
            sessions.revoke(token)
        root = str(request.scope.get("root_path", "")).rstrip("/") + "/"
        response = RedirectResponse(root, status_code=303)
        for name in sessions.cookie_names:
            response.headers.append("set-cookie", clear_cookie(name).decode("latin-1"))
        return response
