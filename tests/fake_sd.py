"""A loopback HTTP server that speaks the AUTOMATIC1111 ``/sdapi/v1`` API, for tests.

It is a real server (``http.server.ThreadingHTTPServer`` on 127.0.0.1, a free port, in a
thread; see :mod:`tests.fake_http`), so the backend under test goes through real sockets, real
HTTP and real JSON::

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
import io
import json
import random
import threading
import time
from typing import Any, ClassVar

from PIL import Image

from tests.fake_http import FakeHTTPServer, Reply, Request, json_reply, png, seed_colours

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
_NOT_FOUND = json_reply(404, {"detail": "Not Found"})


def _png_b64(seed: int, width: int, height: int) -> str:
    return base64.b64encode(png(seed, width, height)).decode("ascii")


def _upscaled(payload: dict[str, Any]) -> dict[str, Any]:
    raw = base64.b64decode(payload["image"])
    with Image.open(io.BytesIO(raw)) as image:
        factor = float(payload.get("upscaling_resize", 2))
        bigger = image.convert("RGB").resize((round(image.width * factor),
                                              round(image.height * factor)))
    buffer = io.BytesIO()
    bigger.save(buffer, "PNG", compress_level=1)
    return {"image": base64.b64encode(buffer.getvalue()).decode(), "html_info": ""}


class FakeSDServer(FakeHTTPServer):
    """Context manager running a loopback AUTOMATIC1111 look-alike; see the module docstring."""

    MODES = MODES
    UNAUTHORISED = json_reply(401, {"detail": "Incorrect username or password"},
                              {"WWW-Authenticate": "Basic"})
    FAULTS: ClassVar[dict[str, Reply]] = {
        "oom": json_reply(500, {
            "error": "OutOfMemoryError", "detail": "", "body": "",
            "errors": "CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 7.79 GiB total)",
        }),
        "error500": json_reply(500, {"error": "RuntimeError", "detail": "", "body": "",
                                     "errors": "Expected all tensors to be on the same device"}),
        "rate_limit": json_reply(429, {"detail": "Too Many Requests"}, {"Retry-After": "4"}),
    }

    def __init__(
        self,
        *,
        mode: str = "ok",
        auth: tuple[str, str] | None = None,
        delay: float = 0.0,
        image_size_from_request: bool = True,
    ) -> None:
        super().__init__(mode=mode, auth=auth, delay=delay)
        self.image_size_from_request = image_size_from_request
        self.txt2img_requests: list[dict[str, Any]] = []
        self.interrupted = 0
        self.upscales: list[dict[str, Any]] = []
        self._interrupt = threading.Event()
        self._job_started: float | None = None

    # --- routes ---------------------------------------------------------------------------------
    def route(self, request: Request) -> Reply:
        if self.mode == "no_api" and request.path.startswith("/sdapi"):
            return _NOT_FOUND
        refused = self.refuse(request)
        if refused is not None:
            return refused
        if request.method == "GET":
            if request.path == "/sdapi/v1/progress":
                return json_reply(200, self.progress_payload())
            if request.path == "/sdapi/v1/options":
                return json_reply(200, {"sd_model_checkpoint": MODEL_CHECKPOINT,
                                        "samples_format": "png"})
            if request.path == "/sdapi/v1/samplers":
                return json_reply(200, [{"name": name, "aliases": [], "options": {}}
                                        for name in SAMPLERS])
            return _NOT_FOUND
        if request.target == "/sdapi/v1/interrupt":
            self.interrupt()
            return json_reply(200, {})
        if request.target == "/sdapi/v1/txt2img":
            return self._txt2img(request.raw)
        if request.target == "/sdapi/v1/extra-single-image":
            payload = json.loads(request.raw)
            self.upscales.append({k: v for k, v in payload.items() if k != "image"})
            return json_reply(200, _upscaled(payload))
        return _NOT_FOUND

    def _txt2img(self, raw: bytes) -> Reply:
        try:
            payload = json.loads(raw)
        except ValueError:
            return json_reply(422, {"detail": [{"msg": "JSON decode error"}]})
        self.record(payload)
        sampler = payload.get("sampler_name") or "Euler a"
        if sampler not in SAMPLERS:
            return json_reply(404, {"detail": "Sampler not found"})
        fault = self.fault()
        if fault is not None:
            return fault
        if self.mode == "slow":
            self.run_slow_job()
        return json_reply(200, self.build_result(payload))

    # --- used by the routes ---------------------------------------------------------------------
    def record(self, payload: dict[str, Any]) -> None:
        with self.lock:
            self.txt2img_requests.append(payload)

    def interrupt(self) -> None:
        with self.lock:
            self.interrupted += 1
        self._interrupt.set()

    def run_slow_job(self) -> None:
        """Sleep ``delay`` seconds in small steps; an interrupt or shutdown ends it early."""
        self._interrupt.clear()
        with self.lock:
            self._job_started = time.monotonic()
        deadline = time.monotonic() + self.delay
        try:
            while time.monotonic() < deadline:
                if self._interrupt.is_set() or self.stopping.is_set():
                    break
                time.sleep(0.01)
        finally:
            with self.lock:
                self._job_started = None

    def progress_payload(self) -> dict[str, Any]:
        with self.lock:
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
        images = [_png_b64(s, width, height) for s in seeds[:self.count(batch)]]
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
