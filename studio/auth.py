"""The master key: login check, per-address lockout after failed logins, REST key check.

One key opens everything: it is the password of the Gradio login (any non-empty user name) and
the ``X-API-Key`` of the REST contract. Keys are compared in constant time on bytes. Failed
attempts (a wrong password on ``POST /login`` or a wrong ``X-API-Key``) are counted per client
address; past ``max_failures`` within ``window_s`` that address gets 429 for ``lockout_s``
while other addresses carry on. The key and the passwords tried are never logged.
"""

from __future__ import annotations

import hmac
import logging
import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from fastapi import HTTPException, Request

from .asgi import ASGIApp, Message, Receive, Scope, Send, send_json

__all__ = [
    "API_KEY_HEADER",
    "LOGIN_PATHS",
    "FailureCounter",
    "KeyChecker",
    "LoginThrottle",
    "LoginThrottleMiddleware",
    "lockout_message",
    "require_api_key",
]

logger = logging.getLogger(__name__)

API_KEY_HEADER = "X-API-Key"
LOGIN_PATHS = frozenset({"/login", "/login/"})
"""Gradio 6's login route (``App.create_app``), mounted at ``/``."""



def _printable_user(username: str) -> str:
    """The user name as it goes into a log line: quoted, control characters escaped, short."""
    return repr(username[:64])


class KeyChecker:
    """``(username, password) -> bool`` for ``gr.mount_gradio_app(auth=...)``.

    Any non-empty user name is accepted (it only labels the session); the password must be the
    master key.
    """

    def __init__(self, key: str) -> None:
        if not key:
            raise ValueError("the master key must not be empty")
        self._key = key.encode("utf-8")

    def __repr__(self) -> str:
        return "KeyChecker(key=<hidden>)"

    def matches(self, candidate: str | None) -> bool:
        """Whether ``candidate`` is the key, in time independent of where they differ."""
        if candidate is None:
            return False
        return hmac.compare_digest(candidate.encode("utf-8", "surrogatepass"), self._key)

    def __call__(self, username: str, password: str) -> bool:
        username = (username or "").strip()
        # Someone who typed the key into the user name field must not find it in the log.
        shown = "<hidden>" if self.matches(username) else _printable_user(username)
        if not username:
            logger.warning("login refused: empty user name")
            return False
        if self.matches(password):
            logger.info("login accepted for user %s", shown)
            return True
        logger.warning("login refused for user %s: wrong key", shown)
        return False


class FailureCounter(Protocol):
    """What the doors need of a login throttle: :class:`LoginThrottle` (this process, the
    default) or :class:`studio.throttle_redis.RedisLoginThrottle` (shared by replicas)."""

    def locked_for(self, address: str) -> float: ...

    def record_failure(self, address: str) -> bool: ...

    def record_success(self, address: str) -> None: ...


@dataclass
class _Entry:
    failures: deque[float] = field(default_factory=deque)
    locked_until: float = 0.0


class LoginThrottle:
    """Counts failed attempts per client address, and across all addresses; thread-safe,
    bounded memory.

    An address with ``max_failures`` failures within ``window_s`` is locked out for
    ``lockout_s``. Independently, ``global_max_failures`` failures from all addresses together
    within ``global_window_s`` lock *every* attempt out until the oldest of them leaves the
    window, so that rotating addresses cannot brute-force the key faster than that.
    """

    def __init__(
        self,
        max_failures: int,
        window_s: float,
        lockout_s: float,
        clock: Callable[[], float] = time.monotonic,
        max_addresses: int = 10_000,
        global_max_failures: int | None = None,
        global_window_s: float = 60.0,
    ) -> None:
        if max_failures < 1 or window_s <= 0 or lockout_s <= 0 or max_addresses < 1:
            raise ValueError("max_failures, window_s, lockout_s and max_addresses must be > 0")
        if global_max_failures is not None and (global_max_failures < 1 or global_window_s <= 0):
            raise ValueError("global_max_failures and global_window_s must be > 0")
        self.max_failures = max_failures
        self.window_s = float(window_s)
        self.lockout_s = float(lockout_s)
        self.max_addresses = max_addresses
        self.global_max_failures = global_max_failures
        self.global_window_s = float(global_window_s)
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._recent: deque[float] = deque()  # every address's failures, newest last

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def _live(self, entry: _Entry, now: float) -> bool:
        while entry.failures and entry.failures[0] <= now - self.window_s:
            entry.failures.popleft()
        return bool(entry.failures) or entry.locked_until > now

    def _prune(self, now: float) -> None:
        for address in [a for a, e in self._entries.items() if not self._live(e, now)]:
            del self._entries[address]
        while len(self._entries) >= self.max_addresses:
            self._entries.popitem(last=False)  # the least recently failing address

    def _global_locked_for(self, now: float) -> float:
        limit = self.global_max_failures
        if limit is None:
            return 0.0
        while self._recent and self._recent[0] <= now - self.global_window_s:
            self._recent.popleft()
        if len(self._recent) < limit:
            return 0.0
        return max(0.0, self._recent[-limit] + self.global_window_s - now)

    def locked_for(self, address: str) -> float:
        """Seconds ``address`` stays locked out (by its own failures or by the global
        ceiling); 0 when it may try."""
        with self._lock:
            now = self._clock()
            everyone = self._global_locked_for(now)
            entry = self._entries.get(address)
            mine = 0.0 if entry is None else max(0.0, entry.locked_until - now)
            return max(mine, everyone)

    def record_failure(self, address: str) -> bool:
        """Count one failed attempt; True when it locks ``address`` out."""
        with self._lock:
            now = self._clock()
            entry = self._entries.get(address)
            if entry is None:
                if len(self._entries) >= self.max_addresses:
                    self._prune(now)
                entry = self._entries[address] = _Entry()
            else:
                self._entries.move_to_end(address)
            self._live(entry, now)
            entry.failures.append(now)
            if self.global_max_failures is not None:
                self._recent.append(now)
                while len(self._recent) > self.global_max_failures:
                    self._recent.popleft()
            if len(entry.failures) >= self.max_failures:
                entry.failures.clear()
                entry.locked_until = now + self.lockout_s
                return True
            return False

    def record_success(self, address: str) -> None:
        """A successful attempt forgets the address's earlier failures."""
        with self._lock:
            self._entries.pop(address, None)


def lockout_message(seconds: float) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    unit = "minute" if minutes == 1 else "minutes"
    return f"Too many failed logins; try again in {minutes} {unit}."


def _client_address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class LoginThrottleMiddleware:
    """ASGI middleware on ``POST /login``: 429 while the address is locked out, and counts the
    login's outcome (Gradio answers 400 to wrong credentials, 200 with a cookie to right ones)."""

    def __init__(self, app: ASGIApp, throttle: FailureCounter) -> None:
        self.app = app
        self.throttle = throttle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope.get("method") != "POST"
            or scope.get("path") not in LOGIN_PATHS
        ):
            await self.app(scope, receive, send)
            return
        address = _client_address(scope)
        remaining = self.throttle.locked_for(address)
        if remaining > 0:
            logger.warning("login refused for %s: locked out", address)
            await _send_429(send, remaining)
            return
        status: list[int] = []

        async def observe(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))
            await send(message)

        await self.app(scope, receive, observe)
        if not status:
            return
        if status[0] in (400, 401, 403):
            if self.throttle.record_failure(address):
                logger.warning("too many failed logins from %s: locked out", address)
        elif 200 <= status[0] < 300:
            self.throttle.record_success(address)


async def _send_429(send: Send, remaining: float) -> None:
    await send_json(send, 429, lockout_message(remaining),
                    [(b"retry-after", str(math.ceil(remaining)).encode("ascii"))])


def require_api_key(request: Request) -> None:
    """FastAPI dependency for the REST routes: 403 unless ``X-API-Key`` is the master key.

    Reads the ``KeyChecker`` (and optional ``FailureCounter``) that ``create_server`` puts in
    ``app.state``. A wrong key counts as a failed login for the client's address; a locked-out
    address gets 429.
    """
    checker: KeyChecker = request.app.state.key_checker
    throttle: FailureCounter | None = getattr(request.app.state, "login_throttle", None)
    address = request.client.host if request.client else "unknown"
    if throttle is not None:
        remaining = throttle.locked_for(address)
        if remaining > 0:
            raise HTTPException(
                status_code=429,
                detail=lockout_message(remaining),
                headers={"Retry-After": str(math.ceil(remaining))},
            )
    supplied = request.headers.get(API_KEY_HEADER)
    if checker.matches(supplied):
        return
    if supplied is None:
        logger.info("REST %s %s refused for %s: no %s", request.method, request.url.path,
                    address, API_KEY_HEADER)
        raise HTTPException(status_code=403, detail=f"Missing {API_KEY_HEADER} header.")
    logger.warning("REST %s %s refused for %s: wrong %s", request.method, request.url.path,
                   address, API_KEY_HEADER)
    if throttle is not None:
        throttle.record_failure(address)
    raise HTTPException(status_code=403, detail=f"Wrong {API_KEY_HEADER}.")
