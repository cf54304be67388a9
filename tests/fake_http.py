"""The common part of every loopback fake server (AUTOMATIC1111, ComfyUI, OpenAI-compatible,
Hugging Face Inference): a real ``ThreadingHTTPServer`` on 127.0.0.1 in a thread, a ``mode``
switchable at run time, credentials (a bearer ``key`` or HTTP Basic ``auth``), a ``slow``
delay that a shutdown ends, and the fault modes every fake answers the same way:

- ``down``: every connection is closed without an answer (a server dead behind its port);
- ``kill()``: the port closes and requests in flight get no answer;
- a wrong or missing credential: the fake's own ``UNAUTHORISED`` reply (HTTP 401);
- ``garbage``: 200 with an HTML page (a proxy's welcome page instead of the API);
- ``few_images``: one image fewer than asked (:meth:`FakeHTTPServer.count`);
- the fake's ``FAULTS`` table: ``error500``, ``oom``, ``refusal``, ``rate_limit``... each in
  the fake's own error format (:meth:`FakeHTTPServer.fault`).

A subclass speaks only its own protocol, in :meth:`FakeHTTPServer.route`.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, TypeVar
from urllib.parse import parse_qs, urlsplit

import numpy as np
from PIL import Image

__all__ = ["COMMON_MODES", "GARBAGE", "FakeHTTPServer", "Reply", "Request", "json_reply", "png",
           "seed_colours"]

COMMON_MODES = ("ok", "down", "slow", "garbage", "few_images", "error500", "oom", "refusal",
                "rate_limit", "quota")

_Fake = TypeVar("_Fake", bound="FakeHTTPServer")
Reply = tuple[int, bytes, str, dict[str, str]]
"""(status, body, content type, extra headers)."""

GARBAGE: Reply = (200, b"<html><body>Welcome to nginx!</body></html>", "text/html", {})
"""What the ``garbage`` mode answers: a web page where the API should be."""


def seed_colours(seed: int) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """The two colours of the gradient the fakes paint for ``seed`` (top-left, bottom-right)."""
    digest = hashlib.sha256(str(seed).encode()).digest()
    return (digest[0], digest[1], digest[2]), (digest[3], digest[4], digest[5])


def png(seed: int, width: int, height: int) -> bytes:
    """A gradient whose corner colours tell the seed (see ``seed_colours``)."""
    top, bottom = seed_colours(seed)
    t = (np.add.outer(np.arange(height), np.arange(width)) / max(1, width + height - 2))[..., None]
    pixels = np.array(top, float) * (1 - t) + np.array(bottom, float) * t
    buffer = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8), "RGB").save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def json_reply(status: int, payload: object, headers: dict[str, str] | None = None) -> Reply:
    return status, json.dumps(payload).encode(), "application/json", headers or {}


@dataclass(frozen=True)
class Request:
    """One request as a fake sees it; ``headers`` has lower-case names."""

    method: str
    target: str
    """The request target: path and query."""
    raw: bytes
    headers: dict[str, str]

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    def query(self, name: str) -> str:
        return parse_qs(urlsplit(self.target).query).get(name, [""])[0]

    @property
    def body(self) -> Any:
        """The body as JSON; None when empty or not JSON."""
        try:
            return json.loads(self.raw) if self.raw else None
        except ValueError:
            return None


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet in tests
        pass

    def _answer(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        fake = self.server.fake
        if fake.mode == "down":
            self.close_connection = True  # no answer at all
            return
        request = Request(method, self.path, raw,
                          {key.lower(): value for key, value in self.headers.items()})
        if fake.take_over(request, self):
            return
        with fake.lock:
            fake.requests.append({"method": method, "path": self.path, "body": request.body,
                                  "headers": request.headers})
        reply = fake.route(request)
        if fake.killed.is_set():  # the server "died" mid-request: no answer at all
            self.close_connection = True
            return
        status, data, content_type, headers = reply
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout, cancel)
            self.close_connection = True

    def do_GET(self) -> None:
        self._answer("GET")

    def do_POST(self) -> None:
        self._answer("POST")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeHTTPServer


class FakeHTTPServer:
    """Base of the fakes; a subclass sets ``MODES``, ``UNAUTHORISED`` and ``FAULTS`` and
    implements ``route``. ``with Fake(...) as fake:`` serves at ``fake.url``."""

    MODES: ClassVar[tuple[str, ...]] = COMMON_MODES
    UNAUTHORISED: ClassVar[Reply] = json_reply(401, {"error": "Unauthorized"},
                                               {"WWW-Authenticate": "Basic"})
    FAULTS: ClassVar[dict[str, Reply]] = {}
    """mode -> the reply that mode gives instead of a result."""

    def __init__(self, *, mode: str = "ok", delay: float = 0.0, key: str | None = None,
                 auth: tuple[str, str] | None = None) -> None:
        self.mode = mode
        self.delay = delay
        self.key = key
        """A bearer key the requests must carry (None: no check)."""
        self.auth = auth
        """HTTP Basic (user, password) the requests must carry (None: no check)."""
        self.url = ""
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.killed = threading.Event()
        """Set by ``kill()``: requests in flight get no answer."""
        self.stopping = threading.Event()
        """Set when the server stops: ``slow`` waits end early."""
        self._server: _Server | None = None
        self._threads: list[threading.Thread] = []

    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, value: str) -> None:
        if value not in self.MODES:
            raise ValueError(f"unknown {type(self).__name__} mode {value!r}; valid: "
                             f"{', '.join(self.MODES)}")
        self._mode = value

    # --- lifecycle ------------------------------------------------------------------------------
    def __enter__(self: _Fake) -> _Fake:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        self._server = server
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        workers: list[Callable[[], None]] = [lambda: server.serve_forever(poll_interval=0.05)]
        for target in workers + self.workers():
            thread = threading.Thread(target=target, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.halt()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)

    def kill(self) -> None:
        """Die now: the port closes and requests in flight get no answer."""
        self.killed.set()
        self.__exit__()

    # --- hooks for a subclass -------------------------------------------------------------------
    def workers(self) -> list[Callable[[], None]]:
        """Background loops to run beside the server (a job queue)."""
        return []

    def halt(self) -> None:
        """Stop the background loops (the server is shut down right after)."""

    def take_over(self, request: Request, handler: BaseHTTPRequestHandler) -> bool:
        """Answer ``request`` on the raw connection (a websocket upgrade); True when done."""
        return False

    def route(self, request: Request) -> Reply:
        raise NotImplementedError

    # --- shared answers -------------------------------------------------------------------------
    def sleep(self) -> None:
        """The ``slow`` mode's delay, cut short when the server stops."""
        deadline = time.monotonic() + self.delay
        while time.monotonic() < deadline and not self.stopping.is_set():
            time.sleep(0.01)

    def refuse(self, request: Request) -> Reply | None:
        """``UNAUTHORISED`` when ``request`` lacks the credentials the fake wants, else None."""
        given = request.headers.get("authorization")
        if self.key is not None and given != f"Bearer {self.key}":
            return self.UNAUTHORISED
        if self.auth is not None:
            expected = "Basic " + base64.b64encode(":".join(self.auth).encode()).decode()
            if given != expected:
                return self.UNAUTHORISED
        return None

    def fault(self) -> Reply | None:
        """The reply the current mode gives instead of a result, if it is a fault."""
        if self.mode == "garbage":
            return GARBAGE
        return self.FAULTS.get(self.mode)

    def count(self, asked: int) -> int:
        """How many images to answer ``asked`` with: one fewer in ``few_images`` mode."""
        return asked - 1 if self.mode == "few_images" else asked
