"""AUTOMATIC1111 / Forge / SD.Next backend, over their shared ``/sdapi/v1`` HTTP API.

One batch is one ``POST /sdapi/v1/txt2img`` (``batch_size`` images, ``n_iter`` 1). While it
runs in a worker thread, ``GET /sdapi/v1/progress`` is polled and reported. Jobs run one at a
time; setting a job's ``cancel`` event stops it: while it waits for its turn it just gives up,
while it paints ``/sdapi/v1/interrupt`` is posted (the server then runs this job, not another
user's). Every failure is translated, once, into a ``BackendError`` subclass
whose message says what to do and never carries the password or a traceback (the messages
live in :mod:`._a1111_errors`; decoding the answer in :mod:`._a1111_decode`).
"""

from __future__ import annotations

import contextlib
import math
import threading
from typing import Any
from urllib.parse import urlsplit

import httpx

from ..errors import BackendCancelled, BackendError, BackendUnavailable, InvalidRequest
from ..settings import Settings
from ._a1111_decode import decode_images
from ._a1111_errors import public_url, status_error, transport_error
from .base import GeneratedImage, GenerationParams, ProgressCallback

__all__ = ["Automatic1111Backend", "native_size"]

_CANCEL_GRACE_SECONDS = 5.0


def native_size(target_w: int, target_h: int, native_side: int) -> tuple[int, int]:
    """Width and height (multiples of 8) with the target's aspect ratio and about
    ``native_side``² pixels: the size to ask the model for before scaling up."""
    for name, value in (("width", target_w), ("height", target_h), ("native size", native_side)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise InvalidRequest(f"{name} must be a positive whole number, got {value!r}.",
                                 field=name.replace(" ", "_"))
    ratio = target_w / target_h
    area = float(native_side * native_side)
    ideal_w = math.sqrt(area * ratio)
    best: tuple[float, int, int] | None = None
    for w in {max(64, 8 * math.floor(ideal_w / 8)), max(64, 8 * math.ceil(ideal_w / 8))}:
        for h in {max(64, 8 * math.floor(w / ratio / 8)), max(64, 8 * math.ceil(w / ratio / 8))}:
            score = abs(math.log((w / h) / ratio)) + 0.5 * abs(math.log(w * h / area))
            if best is None or score < best[0]:
                best = (score, w, h)
    assert best is not None
    return best[1], best[2]


class Automatic1111Backend:
    """Paints backgrounds on an AUTOMATIC1111-compatible server. One job at a time."""

    name = "automatic1111"

    def __init__(
        self,
        base_url: str,
        *,
        client: httpx.Client | None = None,
        auth: tuple[str, str] | None = None,
        connect_timeout: float = 10,
        read_timeout: float = 120,
        poll_interval: float = 0.5,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.public_url = public_url(self.base_url)
        self._client = client if client is not None else httpx.Client()
        self._auth = httpx.BasicAuth(*auth) if auth else None
        self._password = auth[1] if auth else (urlsplit(self.base_url).password or None)
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._poll_interval = poll_interval
        self._job_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._current: threading.Event | None = None  # the painting job's cancel event
        self._model: str | None = None
        self._wake = threading.Event()

    @classmethod
    def from_settings(
        cls, settings: Settings, client: httpx.Client | None = None
    ) -> Automatic1111Backend:
        if not settings.sd_instance:
            raise BackendUnavailable(
                "No Stable Diffusion server configured: set STABLE_DIFUSION_INSTANCE "
                "(e.g. http://127.0.0.1:7860) or use the procedural backend."
            )
        return cls(
            settings.sd_instance,
            client=client,
            auth=settings.sd_auth,
            connect_timeout=settings.sd_connect_timeout,
            read_timeout=settings.sd_read_timeout,
        )

    # --- model --------------------------------------------------------------------------------
    @property
    def model(self) -> str:
        """The server's ``sd_model_checkpoint``, fetched once; ``"unknown"`` if unavailable."""
        if self._model is not None:
            return self._model
        try:
            data = self._request("GET", "/sdapi/v1/options", read_timeout=10.0).json()
            checkpoint = data.get("sd_model_checkpoint") if isinstance(data, dict) else None
        except (BackendError, ValueError):
            return "unknown"
        if not isinstance(checkpoint, str) or not checkpoint.strip():
            return "unknown"
        self._model = checkpoint.strip()
        return self._model

    # --- generation ---------------------------------------------------------------------------
    def generate(
        self,
        params: GenerationParams,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> list[GeneratedImage]:
        """Paint ``params.batch_size`` images in one txt2img call; see the module docstring."""
        report = progress or (lambda fraction, message: None)
        token = cancel if cancel is not None else threading.Event()
        payload = {
            "prompt": params.prompt,
            "negative_prompt": params.negative_prompt,
            "seed": params.seed,
            "steps": params.steps,
            "cfg_scale": params.cfg_scale,
            "sampler_name": params.sampler,
            "width": params.width,
            "height": params.height,
            "batch_size": params.batch_size,
            "n_iter": 1,
            "send_images": True,
            "save_images": False,
        }
        self._take_turn(token)
        try:
            with self._state_lock:
                self._current = token
            report(0.0, "sent to the Stable Diffusion server")
            response = self._post_with_progress(payload, params.batch_size, report, token)
            images = decode_images(response, params, self.public_url)
        finally:
            with self._state_lock:
                self._current = None
            self._job_lock.release()
        report(1.0, "done")
        return images

    def cancel(self) -> None:
        """Stop the job this backend is painting (if any); its ``generate`` then raises
        BackendCancelled."""
        with self._state_lock:
            if self._current is None:
                return
            self._current.set()
            self._wake.set()

    def _take_turn(self, token: threading.Event) -> None:
        """Wait until no other job of this backend paints; give up if ``token`` is set first
        (nothing to interrupt: the server is not painting this job)."""
        while not self._job_lock.acquire(timeout=self._poll_interval):
            if token.is_set():
                raise BackendCancelled("Generation cancelled.")
        if token.is_set():
            self._job_lock.release()
            raise BackendCancelled("Generation cancelled.")

    def _post_with_progress(
        self,
        payload: dict[str, Any],
        batch_size: int,
        report: ProgressCallback,
        token: threading.Event,
    ) -> httpx.Response:
        outcome: dict[str, Any] = {}

        def work() -> None:
            try:
                outcome["response"] = self._request(
                    "POST",
                    "/sdapi/v1/txt2img",
                    body=payload,
                    read_timeout=self._read_timeout * max(1, batch_size),
                )
            except BaseException as exc:  # handed to the calling thread
                outcome["error"] = exc

        wake = threading.Event()  # set when the call returns, or by cancel()
        finished = threading.Event()
        with self._state_lock:
            self._wake = wake

        def run() -> None:
            work()
            finished.set()
            wake.set()

        if token.is_set():  # cancelled before anything was sent
            raise BackendCancelled("Generation cancelled.")
        worker = threading.Thread(target=run, name="sd-txt2img", daemon=True)
        worker.start()
        done = 0.0
        while not wake.wait(self._poll_interval) and not token.is_set():
            done = self._poll_progress(done, report)
        if token.is_set() and not finished.is_set():
            # This job holds the job lock, so what the server paints now is this job.
            with contextlib.suppress(BackendError):  # generate stops waiting regardless
                self._request("POST", "/sdapi/v1/interrupt", read_timeout=10.0)
            worker.join(_CANCEL_GRACE_SECONDS)
            raise BackendCancelled("Generation cancelled.")
        worker.join()
        if "error" in outcome:
            raise outcome["error"]
        response: httpx.Response = outcome["response"]
        return response

    def _poll_progress(self, done: float, report: ProgressCallback) -> float:
        try:
            data = self._request(
                "GET", "/sdapi/v1/progress?skip_current_image=true", read_timeout=5.0
            ).json()
        except (BackendError, ValueError):
            return done
        if not isinstance(data, dict):
            return done
        try:
            fraction = float(data.get("progress") or 0.0)
            eta = float(data.get("eta_relative") or 0.0)
        except (TypeError, ValueError):
            return done
        fraction = min(max(fraction, done), 0.99)
        state = data.get("state")
        if not isinstance(state, dict):
            state = {}
        job = str(state.get("job") or "").strip()
        message = f"painting {fraction:.0%}"
        if eta > 0:
            message += f", about {math.ceil(eta)} s left"
        if job:
            message += f" ({job})"
        report(fraction, message)
        return fraction

    # --- HTTP -----------------------------------------------------------------------------------
    def _request(
        self,
        method: str,
        path: str,
        *,
        read_timeout: float,
        body: dict[str, Any] | None = None,
    ) -> httpx.Response:
        """One HTTP call; every failure becomes a BackendError. Returns a 2xx response."""
        where = self.public_url
        timeout = httpx.Timeout(
            connect=self._connect_timeout, read=read_timeout, write=60.0, pool=read_timeout
        )
        try:
            response = self._client.request(
                method,
                self.base_url + path,
                json=body,
                auth=self._auth or httpx.USE_CLIENT_DEFAULT,
                timeout=timeout,
            )
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise transport_error(
                exc, where, self._connect_timeout, read_timeout, self._password
            ) from None
        if response.is_success:
            return response
        raise status_error(response, path, where, self._password)
