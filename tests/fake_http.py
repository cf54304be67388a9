"""The common part of the loopback fakes for hosted image APIs (OpenAI-compatible, Hugging Face
Inference): a real ``ThreadingHTTPServer`` on 127.0.0.1 in a thread, a ``mode`` switchable at
run time, a bearer key, a ``slow`` delay that a shutdown ends, and the fault answers every
fake gives the same way. A subclass answers its own routes in :meth:`FakeHTTPServer.route`.
"""

from __future__ import annotations

import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
from PIL import Image

from tests.fake_sd import seed_colours

__all__ = ["COMMON_MODES", "FakeHTTPServer", "Reply", "json_reply", "png"]

COMMON_MODES = ("ok", "slow", "garbage", "few_images", "error500", "oom", "refusal",
                "rate_limit", "quota")

Reply = tuple[int, bytes, str, dict[str, str]]
"""(status, body, content type, extra headers)."""


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


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        fake = self.server.fake
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        lowered = {key.lower(): value for key, value in self.headers.items()}
        with fake.lock:
            fake.requests.append({"method": method, "path": self.path, "body": body,
                                  "headers": lowered})
        status, data, content_type, headers = fake.route(method, self.path, body, lowered)
        if fake.killed.is_set():  # the server "died" mid-request: no answer at all
            self.close_connection = True
            return
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def do_GET(self) -> None:
        self._answer("GET")

    def do_POST(self) -> None:
        self._answer("POST")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeHTTPServer


class FakeHTTPServer:
    """Base of the fakes; subclasses set ``MODES`` and implement ``route``."""

    MODES: tuple[str, ...] = COMMON_MODES

    def __init__(self, *, mode: str = "ok", delay: float = 0.0, key: str | None = None) -> None:
        self.mode = mode
        self.delay = delay
        self.key = key
        self.url = ""
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.killed = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, value: str) -> None:
        if value not in self.MODES:
            raise ValueError(f"unknown mode {value!r}; valid: {', '.join(self.MODES)}")
        self._mode = value

    def __enter__(self) -> FakeHTTPServer:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        self._server = server
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        self._thread = threading.Thread(target=server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.killed.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def kill(self) -> None:
        """Stop at once: the port closes and requests in flight get no answer."""
        self.__exit__()

    def sleep(self) -> None:
        """The ``slow`` mode's delay, cut short when the server is killed."""
        deadline = time.monotonic() + self.delay
        while time.monotonic() < deadline and not self.killed.is_set():
            time.sleep(0.01)

    def authorised(self, headers: dict[str, str]) -> bool:
        """``headers`` has lower-case names."""
        return self.key is None or headers.get("authorization") == f"Bearer {self.key}"

    def route(self, method: str, path: str, body: Any, headers: dict[str, str]) -> Reply:
        raise NotImplementedError
