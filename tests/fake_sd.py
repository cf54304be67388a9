"""A loopback HTTP server that speaks the AUTOMATIC1111 ``/sdapi/v1`` API, for tests.

It is a real server (``http.server.ThreadingHTTPServer`` on 127.0.0.1, a free port, in a
thread), so the backend under test goes through real sockets, real HTTP and real JSON::

    with FakeSDServer() as sd:
        backend = Automatic1111Backend(sd.url)
        ...
        sd.mode = "oom"          # switch behaviour at runtime

Modes: ``ok``; ``down`` (every connection is closed without an answer, as by a server that
died behind its port); ``oom`` (500 ``{"error": "OutOfMemoryError"}``); ``error500``; ``garbage``
(200, not JSON); ``bad_base64``; ``few_images`` (one image fewer than asked); ``no_api`` (404 on
every ``/sdapi`` route, like a server started without ``--api``); ``slow`` (sleeps ``delay``
seconds before answering, reporting progress meanwhile; ``/sdapi/v1/interrupt`` ends it early);
``data_prefix`` (images carry a ``data:image/png;base64,`` prefix); ``extra_images`` (one extra
control image after the batch, as ControlNet does); ``no_info`` (no ``info`` field);
``rate_limit`` (429 with ``Retry-After: 4``, as a proxy in front of the server answers).
``kill()`` stops the server at once: the port closes and a job in flight gets no answer.
``/sdapi/v1/extra-single-image`` upscales with Pillow by ``upscaling_resize``.

Images are RGB PNGs whose colours derive from their seed, so variants can be told apart; their
size is the requested width × height (or 64 × 64 when ``image_size_from_request`` is False).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

import numpy as np
from PIL import Image

__all__ = ["MODES", "SAMPLERS", "FakeSDServer", "seed_colours"]

MODES = (
    "ok",
    "down",
    "oom",
    "error500",
    "garbage",
    "bad_base64",
    "few_images",
    "no_api",
    "slow",
    "data_prefix",
    "extra_images",
    "no_info",
    "rate_limit",
)

_BASE_SAMPLERS = (
    "Euler a", "Euler", "LMS", "Heun", "DPM2", "DPM2 a", "DPM++ 2S a", "DPM++ 2M", "DPM++ SDE",
    "DPM++ 2M SDE", "DPM++ 3M SDE", "DPM fast", "DPM adaptive", "DDIM", "PLMS", "UniPC", "LCM",
)
SAMPLERS = frozenset(_BASE_SAMPLERS + tuple(f"{s} Karras" for s in _BASE_SAMPLERS))
"""Sampler names the fake accepts; others get 404 ``Sampler not found`` as AUTOMATIC1111 does."""

MODEL_CHECKPOINT = "fake-model.safetensors"


def seed_colours(seed: int) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """The two colours of the gradient the fake paints for ``seed`` (top-left, bottom-right)."""
    digest = hashlib.sha256(str(seed).encode()).digest()
    return (digest[0], digest[1], digest[2]), (digest[3], digest[4], digest[5])


def _png_b64(seed: int, width: int, height: int) -> str:
    top, bottom = seed_colours(seed)
    t = (np.add.outer(np.arange(height), np.arange(width)) / max(1, width + height - 2))[..., None]
    pixels = np.array(top, float) * (1 - t) + np.array(bottom, float) * t
    buffer = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8), "RGB").save(buffer, "PNG", compress_level=1)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet in tests
        pass

    # --- plumbing ---------------------------------------------------------------------------
    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout, cancel)
            self.close_connection = True

    def _json(self, status: int, payload: object, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json", headers or {})

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _guard(self) -> bool:
        """Answer 404 (no --api) or 401 (auth) when due; True when the request may proceed."""
        fake = self.server.fake
        if fake.mode == "down":
            self.close_connection = True  # no answer at all
            return False
        if fake.mode == "no_api" and self.path.startswith("/sdapi"):
            self._json(404, {"detail": "Not Found"})
            return False
        if fake.auth is not None:
            user, password = fake.auth
            expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
            if self.headers.get("Authorization") != expected:
                self._json(
                    401,
                    {"detail": "Incorrect username or password"},
                    {"WWW-Authenticate": "Basic"},
                )
                return False
        return True

    # --- routes -----------------------------------------------------------------------------
    def do_GET(self) -> None:
        if not self._guard():
            return
        fake = self.server.fake
        path = self.path.split("?", 1)[0]
        if path == "/sdapi/v1/progress":
            self._json(200, fake.progress_payload())
        elif path == "/sdapi/v1/options":
            self._json(200, {"sd_model_checkpoint": MODEL_CHECKPOINT, "samples_format": "png"})
        elif path == "/sdapi/v1/samplers":
            self._json(200, [{"name": name, "aliases": [], "options": {}} for name in SAMPLERS])
        else:
            self._json(404, {"detail": "Not Found"})

    def do_POST(self) -> None:
        body = self._read_body()
        if not self._guard():
            return
        fake = self.server.fake
        if self.path == "/sdapi/v1/interrupt":
            fake.interrupt()
            self._json(200, {})
        elif self.path == "/sdapi/v1/txt2img":
            self._txt2img(body)
        elif self.path == "/sdapi/v1/extra-single-image":
            self._upscale(body)
        else:
            self._json(404, {"detail": "Not Found"})

    def _upscale(self, body: bytes) -> None:
        payload = json.loads(body)
        self.server.fake.upscales.append({k: v for k, v in payload.items() if k != "image"})
        self._json(200, _upscaled(payload))

    def _txt2img(self, body: bytes) -> None:
        fake = self.server.fake
        try:
            payload = json.loads(body)
        except ValueError:
            self._json(422, {"detail": [{"msg": "JSON decode error"}]})
            return
        fake.record(payload)
        sampler = payload.get("sampler_name") or "Euler a"
        if sampler not in SAMPLERS:
            self._json(404, {"detail": "Sampler not found"})
            return
        mode = fake.mode
        if mode == "oom":
            self._json(500, {
                "error": "OutOfMemoryError",
                "detail": "",
                "body": "",
                "errors": "CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 7.79 GiB total)",
            })
            return
        if mode == "error500":
            self._json(500, {"error": "RuntimeError", "detail": "", "body": "",
                             "errors": "Expected all tensors to be on the same device"})
            return
        if mode == "garbage":
            self._send(200, b"<html><body>Welcome to nginx!</body></html>", "text/html", {})
            return
        if mode == "rate_limit":
            self._json(429, {"detail": "Too Many Requests"}, {"Retry-After": "4"})
            return
        if mode == "slow":
            fake.run_slow_job()
        if fake.killed.is_set():  # the server died mid-job: the connection closes unanswered
            self.close_connection = True
            return
        self._json(200, fake.build_result(payload))


def _upscaled(payload: dict[str, Any]) -> dict[str, Any]:
    raw = base64.b64decode(payload["image"])
    with Image.open(io.BytesIO(raw)) as image:
        factor = float(payload.get("upscaling_resize", 2))
        bigger = image.convert("RGB").resize((round(image.width * factor),
                                              round(image.height * factor)))
    buffer = io.BytesIO()
    bigger.save(buffer, "PNG", compress_level=1)
    return {"image": base64.b64encode(buffer.getvalue()).decode(), "html_info": ""}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeSDServer


class FakeSDServer:
    """Context manager running a loopback AUTOMATIC1111 look-alike; see the module docstring."""

    def __init__(
        self,
        *,
        mode: str = "ok",
        auth: tuple[str, str] | None = None,
        delay: float = 0.0,
        image_size_from_request: bool = True,
    ) -> None:
        self.mode = mode
        self.auth = auth
        self.delay = delay
        self.image_size_from_request = image_size_from_request
        self.txt2img_requests: list[dict[str, Any]] = []
        self.interrupted = 0
        self.upscales: list[dict[str, Any]] = []
        self.killed = threading.Event()
        self.url = ""
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._interrupt = threading.Event()
        self._job_started: float | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, value: str) -> None:
        if value not in MODES:
            raise ValueError(f"unknown FakeSDServer mode {value!r}; valid: {', '.join(MODES)}")
        self._mode = value

    # --- lifecycle --------------------------------------------------------------------------
    def __enter__(self) -> FakeSDServer:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        self._server = server
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def kill(self) -> None:
        """Die now: requests in flight get no answer, new ones are refused."""
        self.killed.set()
        self.__exit__(None, None, None)

    # --- used by the handler ----------------------------------------------------------------
    def record(self, payload: dict[str, Any]) -> None:
        with self._lock:
            self.txt2img_requests.append(payload)

    def interrupt(self) -> None:
        with self._lock:
            self.interrupted += 1
        self._interrupt.set()

    def run_slow_job(self) -> None:
        """Sleep ``delay`` seconds in small steps; an interrupt or shutdown ends it early."""
        self._interrupt.clear()
        with self._lock:
            self._job_started = time.monotonic()
        deadline = time.monotonic() + self.delay
        try:
            while time.monotonic() < deadline:
                if self._interrupt.is_set() or self._stop.is_set():
                    break
                time.sleep(0.01)
        finally:
            with self._lock:
                self._job_started = None

    def progress_payload(self) -> dict[str, Any]:
        with self._lock:
            started = self._job_started
        if started is None or self.delay <= 0:
            return {"progress": 0.0, "eta_relative": 0.0,
                    "state": {"job": "", "job_count": 0, "sampling_step": 0}}
        fraction = min(0.99, (time.monotonic() - started) / self.delay)
        return {
            "progress": fraction,
            "eta_relative": max(0.0, self.delay * (1 - fraction)),
            "state": {"job": "Batch 1 out of 1", "job_count": 1,
                      "sampling_step": int(fraction * 20), "sampling_steps": 20},
            "current_image": None,
        }

    def build_result(self, payload: dict[str, Any]) -> dict[str, Any]:
        batch = max(1, int(payload.get("batch_size", 1))) * max(1, int(payload.get("n_iter", 1)))
        seed = int(payload.get("seed", -1))
        if seed < 0:
            seed = random.randrange(2**32)
        seeds = [seed + i for i in range(batch)]
        if self.image_size_from_request:
            width, height = int(payload.get("width", 512)), int(payload.get("height", 512))
        else:
            width = height = 64
        mode = self.mode
        count = batch - 1 if mode == "few_images" else batch
        images = [_png_b64(s, width, height) for s in seeds[:count]]
        if mode == "extra_images":
            images.append(_png_b64(10**9, width, height))
        if mode == "bad_base64":
            images = ["this is not base64 at all!" for _ in images]
        if mode == "data_prefix":
            images = ["data:image/png;base64," + image for image in images]
        result: dict[str, Any] = {"images": images, "parameters": payload}
        if mode != "no_info":
            result["info"] = json.dumps({"seed": seed, "all_seeds": seeds,
                                         "sd_model_name": MODEL_CHECKPOINT.split(".")[0]})
        return result
