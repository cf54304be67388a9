"""AUTOMATIC1111 / Forge / SD.Next backend, over their shared ``/sdapi/v1`` HTTP API.

One batch is one ``POST /sdapi/v1/txt2img`` (``batch_size`` images, ``n_iter`` 1). While it
runs in a worker thread, ``GET /sdapi/v1/progress`` is polled and reported. ``cancel()`` posts
``/sdapi/v1/interrupt``. Every failure is translated here, once, into a ``BackendError``
subclass whose message says what to do and never carries the password or a traceback.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import io
import json
import math
import threading
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from PIL import Image

from ..errors import (
    BackendAuthError,
    BackendCancelled,
    BackendError,
    BackendResponseError,
    BackendTimeout,
    BackendUnavailable,
    InvalidRequest,
)
from ..settings import Settings
from .base import GeneratedImage, GenerationParams, ProgressCallback

__all__ = ["Automatic1111Backend", "native_size"]

_CANCEL_GRACE_SECONDS = 5.0
_DETAIL_LIMIT = 200


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


def _public_url(url: str) -> str:
    """``url`` without any user:password part, safe to show."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def _detail(response: httpx.Response) -> str:
    """The server's own short explanation of an error, on one line."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    parts = []
    for key in ("detail", "errors", "error"):
        value = body.get(key)
        if isinstance(value, str) and value.strip():
            parts.append(value.strip())
        elif isinstance(value, list) and value:
            parts.append("; ".join(str(item.get("msg", item)) if isinstance(item, dict)
                                   else str(item) for item in value))
    text = " ".join(" — ".join(parts).split())
    return text[:_DETAIL_LIMIT]


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
        self.public_url = _public_url(self.base_url)
        self._client = client if client is not None else httpx.Client()
        self._auth = httpx.BasicAuth(*auth) if auth else None
        self._password = auth[1] if auth else (urlsplit(self.base_url).password or None)
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._poll_interval = poll_interval
        self._job_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._cancelled = threading.Event()
        self._running = False
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
        self, params: GenerationParams, progress: ProgressCallback | None = None
    ) -> list[GeneratedImage]:
        """Paint ``params.batch_size`` images in one txt2img call; see the module docstring."""
        report = progress or (lambda fraction, message: None)
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
        with self._job_lock:
            with self._state_lock:
                self._cancelled.clear()
                self._running = True
            try:
                report(0.0, "sent to the Stable Diffusion server")
                response = self._post_with_progress(payload, params.batch_size, report)
                images = self._decode(response, params)
            finally:
                with self._state_lock:
                    self._running = False
        report(1.0, "done")
        return images

    def cancel(self) -> None:
        """Interrupt the running job (if any); ``generate`` then raises BackendCancelled."""
        with self._state_lock:
            if not self._running:
                return
            self._cancelled.set()
            self._wake.set()
        # Even if the interrupt fails, generate stops waiting and raises BackendCancelled.
        with contextlib.suppress(BackendError):
            self._request("POST", "/sdapi/v1/interrupt", read_timeout=10.0)

    def _post_with_progress(
        self, payload: dict[str, Any], batch_size: int, report: ProgressCallback
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

        wake = threading.Event()
        with self._state_lock:
            self._wake = wake
            if self._cancelled.is_set():
                wake.set()

        def run() -> None:
            work()
            wake.set()

        worker = threading.Thread(target=run, name="sd-txt2img", daemon=True)
        worker.start()
        done = 0.0
        while not wake.wait(self._poll_interval):
            done = self._poll_progress(done, report)
        if self._cancelled.is_set():
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

    # --- decoding -----------------------------------------------------------------------------
    def _decode(self, response: httpx.Response, params: GenerationParams) -> list[GeneratedImage]:
        where = self.public_url
        try:
            body = response.json()
        except ValueError:
            raise BackendResponseError(
                f"The Stable Diffusion server at {where} did not answer with JSON; "
                "is the URL really an AUTOMATIC1111/Forge/SD.Next server?"
            ) from None
        images = body.get("images") if isinstance(body, dict) else None
        if not isinstance(images, list):
            raise BackendResponseError(
                f"The Stable Diffusion server at {where} answered without images."
            )
        if len(images) < params.batch_size:
            raise BackendResponseError(
                f"The Stable Diffusion server at {where} returned {len(images)} image(s) "
                f"instead of {params.batch_size}; try again or lower the batch size."
            )
        seeds = self._seeds(body.get("info"), params)
        result = []
        for index, encoded in enumerate(images[: params.batch_size]):
            image = self._decode_image(encoded, index)
            if image.size != (params.width, params.height):
                image = image.resize((params.width, params.height), Image.Resampling.LANCZOS)
            result.append(GeneratedImage(image=image, seed=seeds[index]))
        return result

    def _decode_image(self, encoded: object, index: int) -> Image.Image:
        problem = f"image {index + 1} from the Stable Diffusion server at {self.public_url}"
        if not isinstance(encoded, str):
            raise BackendResponseError(f"The {problem} is not base64 text.")
        if encoded.startswith("data:"):
            encoded = encoded.partition(",")[2]
        try:
            raw = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise BackendResponseError(f"The {problem} is not valid base64.") from None
        try:
            with Image.open(io.BytesIO(raw)) as opened:
                opened.load()
                return opened.convert("RGB")
        except (OSError, ValueError, Image.DecompressionBombError, SyntaxError):
            raise BackendResponseError(f"The {problem} could not be decoded as an image.") from None

    @staticmethod
    def _seeds(info: object, params: GenerationParams) -> list[int]:
        count = params.batch_size
        fallback = [params.seed + i if params.seed >= 0 else -1 for i in range(count)]
        try:
            parsed = json.loads(info) if isinstance(info, str) else info
        except ValueError:
            return fallback
        if not isinstance(parsed, dict):
            return fallback
        all_seeds = parsed.get("all_seeds")
        if isinstance(all_seeds, list) and len(all_seeds) >= count:
            try:
                return [int(seed) for seed in all_seeds[:count]]
            except (TypeError, ValueError):
                return fallback
        seed = parsed.get("seed")
        if isinstance(seed, int) and seed >= 0:
            return [seed + i for i in range(count)]
        return fallback

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
        except httpx.ConnectTimeout:
            raise BackendTimeout(self._scrub(
                f"The Stable Diffusion server at {where} did not accept a connection within "
                f"{self._connect_timeout:g} s; is it running and reachable from here?"
            )) from None
        except httpx.TimeoutException:
            raise BackendTimeout(self._scrub(
                f"The Stable Diffusion server at {where} did not answer within "
                f"{read_timeout:g} s; try a smaller batch or raise FLYER_SD_READ_TIMEOUT."
            )) from None
        except (httpx.ConnectError, httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            raise BackendUnavailable(self._scrub(
                f"Stable Diffusion server not reachable at {where}; is it running? "
                f"({type(exc).__name__})"
            )) from None
        except httpx.HTTPError as exc:
            raise BackendUnavailable(self._scrub(
                f"The connection to the Stable Diffusion server at {where} failed "
                f"({type(exc).__name__}); is it running?"
            )) from None
        if response.is_success:
            return response
        raise self._status_error(response, path)

    def _status_error(self, response: httpx.Response, path: str) -> BackendError:
        where, status = self.public_url, response.status_code
        detail = _detail(response)
        if status in (401, 403):
            return BackendAuthError(self._scrub(
                f"The Stable Diffusion server at {where} refused our credentials (HTTP {status}); "
                "check FLYER_SD_AUTH matches the server's --api-auth user:password."
            ))
        if status == 404 and path.startswith("/sdapi") and detail in ("", "Not Found"):
            return BackendUnavailable(self._scrub(
                f"The server at {where} has no Stable Diffusion API (HTTP 404 on {path}); "
                "start it with --api."
            ))
        if status >= 500 and "OutOfMemoryError" in response.text:
            return BackendResponseError(
                "The Stable Diffusion server ran out of GPU memory: try a smaller batch or size."
            )
        suffix = f": {detail}" if detail else ""
        return BackendResponseError(self._scrub(
            f"The Stable Diffusion server at {where} answered HTTP {status}{suffix}."
        ))

    def _scrub(self, message: str) -> str:
        """Belt and braces: the password never leaves in a message."""
        if self._password:
            message = message.replace(self._password, "***")
        return message
