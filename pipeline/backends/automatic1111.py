"""AUTOMATIC1111 / Forge / SD.Next backend, over their shared ``/sdapi/v1`` HTTP API.

One batch is one ``POST /sdapi/v1/txt2img`` (``batch_size`` images, ``n_iter`` 1). While it
runs in a worker thread, ``GET /sdapi/v1/progress`` is polled and reported. Setting the job's
``cancel`` event posts ``/sdapi/v1/interrupt``; one job at a time per server is the pool's
business (:mod:`.pool`), so what the server paints then is this job. For print formats it can
ask the server's own upscaler (``/sdapi/v1/extra-single-image``) for a sharper background when
the target is more than twice the painted size. Failures are translated once (messages in
:mod:`._a1111_errors` and :mod:`._http`; decoding in :mod:`._a1111_decode`).
"""

from __future__ import annotations

import base64
import contextlib
import functools
import math
import threading
from dataclasses import dataclass
from typing import Any

import httpx
from PIL import Image

from ..errors import BackendError, BackendResponseError, InvalidRequest
from ._a1111_decode import decode_images
from ._a1111_errors import A1111_VOICE, a1111_status_error
from ._batch import Batch
from ._http import HttpServer
from ._images import decode_base64_image, png_bytes
from ._sizes import fit_area
from ._worker import call_cancellable
from .base import (
    Capabilities,
    GeneratedImage,
    Painting,
    PaintRequest,
    ProgressCallback,
)

__all__ = ["A1111Options", "Automatic1111Backend", "native_size"]


def native_size(target_w: int, target_h: int, native_side: int) -> tuple[int, int]:
    """Width and height (multiples of 8) with the target's aspect ratio and about
    ``native_side``² pixels: the size to ask the model for before scaling up."""
    if isinstance(native_side, bool) or not isinstance(native_side, int) or native_side <= 0:
        raise InvalidRequest(f"native size must be a positive whole number, got {native_side!r}.",
                             field="native_size")
    return fit_area((target_w, target_h), native_side * native_side, 8)


@dataclass(frozen=True)
class A1111Options:
    """This backend's own settings (FLYER_SD_*)."""

    steps: int = 25
    cfg_scale: float = 7.0
    sampler: str = "DPM++ 2M"
    native_side: int = 512
    upscaler: str | None = None
    """Name of the server's upscaler for print formats (e.g. 'R-ESRGAN 4x+'); None: never."""


class Automatic1111Backend:
    """Paints backgrounds on one AUTOMATIC1111-compatible server."""

    name = "automatic1111"
    capabilities = Capabilities()

    def __init__(
        self,
        base_url: str,
        *,
        client: httpx.Client | None = None,
        auth: tuple[str, str] | None = None,
        connect_timeout: float = 10,
        read_timeout: float = 120,
        poll_interval: float = 0.5,
        options: A1111Options | None = None,
    ) -> None:
        self.http = HttpServer(
            base_url,
            client=client,
            voice=A1111_VOICE,
            auth=httpx.BasicAuth(*auth) if auth else None,
            secret=auth[1] if auth else None,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
        )
        self.base_url = self.http.base_url
        self.options = options or A1111Options()
        self._poll_interval = poll_interval
        self._model: str | None = None
        self._model_lock = threading.Lock()

    @property
    def server(self) -> str:
        return self.http.public_url

    # --- model and health ---------------------------------------------------------------------
    @property
    def model(self) -> str:
        """The server's ``sd_model_checkpoint``, fetched once; ``"unknown"`` if unavailable."""
        if self._model is None:
            with contextlib.suppress(BackendError):
                self.check()
        return self._model or "unknown"

    def close(self) -> None:
        """Close the HTTP client this backend made (the studio's lifespan calls it)."""
        self.http.close()

    def check(self) -> None:
        """``GET /sdapi/v1/options``: answers when the server is up (and names its model)."""
        response = self._request("GET", "/sdapi/v1/options", read_timeout=10.0)
        try:
            data = response.json()
        except ValueError:
            raise BackendResponseError(
                f"The Stable Diffusion server at {self.server} did not answer with JSON; "
                "is the URL really an AUTOMATIC1111/Forge/SD.Next server?"
            ) from None
        checkpoint = data.get("sd_model_checkpoint") if isinstance(data, dict) else None
        if isinstance(checkpoint, str) and checkpoint.strip():
            with self._model_lock:
                self._model = checkpoint.strip()

    def paint_size(self, request: PaintRequest) -> tuple[int, int]:
        side = self.options.native_side
        return fit_area(request.aspect, side * side, 8, request.pixel_budget)

    # --- generation ---------------------------------------------------------------------------
    def generate(
        self,
        request: PaintRequest,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> Painting:
        """Paint ``request.count`` images in one txt2img call; see the module docstring."""
        batch = Batch.start(self, request, progress, cancel)
        report, token = batch.report, batch.cancel
        width, height = batch.size
        options = self.options
        payload = {
            "prompt": request.prompt,
            "negative_prompt": request.negative_prompt,
            "seed": request.seed,
            "steps": options.steps,
            "cfg_scale": options.cfg_scale,
            "sampler_name": options.sampler,
            "width": width,
            "height": height,
            "batch_size": request.count,
            "n_iter": 1,
            "send_images": True,
            "save_images": False,
        }
        report(0.0, "sent to the Stable Diffusion server")
        read_timeout = self.http.read_timeout * max(1, request.count)
        state = {"done": 0.0}

        def tick() -> None:
            state["done"] = self._poll_progress(state["done"], report)

        def interrupt() -> None:
            with contextlib.suppress(BackendError):  # generate stops waiting regardless
                self._request("POST", "/sdapi/v1/interrupt", read_timeout=10.0)

        response = call_cancellable(
            lambda: self._request("POST", "/sdapi/v1/txt2img", body=payload,
                                  read_timeout=read_timeout),
            token, poll_interval=self._poll_interval, tick=tick, interrupt=interrupt,
            name="sd-txt2img",
        )
        images = decode_images(response, request.count, request.seed, self.server)
        details: dict[str, Any] = {"steps": options.steps, "cfg_scale": options.cfg_scale,
                                   "sampler": options.sampler}
        factor = self._upscale_factor(request, width, height)
        if factor is not None and options.upscaler:
            images = self._upscale(images, factor, token, report)
            details["upscaler"] = options.upscaler
            details["upscaled_by"] = factor
        return batch.finish(self, images, details)

    # --- upscaling for print --------------------------------------------------------------------
    def _upscale_factor(self, request: PaintRequest, width: int, height: int) -> float | None:
        """2-4 when the target has more than (2 × painted side)² pixels; else None."""
        if not self.options.upscaler or request.pixel_budget is None:
            return None
        linear = math.sqrt(request.pixel_budget / (width * height))
        if linear <= 2.0:
            return None
        return float(min(4, math.ceil(linear)))

    def _upscale(self, images: list[GeneratedImage], factor: float, token: threading.Event,
                 report: ProgressCallback) -> list[GeneratedImage]:
        result = []
        for index, generated in enumerate(images):
            report(0.99, f"upscaling {index + 1} of {len(images)}")
            body = {
                "image": base64.b64encode(png_bytes(generated.image)).decode(),
                "upscaler_1": self.options.upscaler,
                "upscaling_resize": factor,
            }
            call = functools.partial(self._request, "POST", "/sdapi/v1/extra-single-image",
                                     body=body, read_timeout=self.http.read_timeout)
            response = call_cancellable(call, token, poll_interval=self._poll_interval,
                                        name="sd-upscale")
            try:
                encoded = response.json().get("image")
            except (ValueError, AttributeError):
                encoded = None
            image = decode_base64_image(
                encoded, f"upscaled image {index + 1} from the Stable Diffusion server at "
                f"{self.server}")
            if image.size == generated.image.size:
                image = image.resize((round(image.width * factor), round(image.height * factor)),
                                     Image.Resampling.LANCZOS)
            result.append(GeneratedImage(image=image, seed=generated.seed))
        return result

    # --- progress -------------------------------------------------------------------------------
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
    def _request(self, method: str, path: str, *, read_timeout: float,
                 body: dict[str, Any] | None = None) -> httpx.Response:
        """One HTTP call; every failure becomes a BackendError. Returns a 2xx response."""
        response = self.http.send(method, path, read_timeout=read_timeout, json=body)
        if response.is_success:
            return response
        raise a1111_status_error(response, path, self.server, self.http.secret)
