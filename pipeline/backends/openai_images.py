"""OpenAI-compatible images backend: ``POST /v1/images/generations`` with a bearer key.

Works against OpenAI and compatible servers (LocalAI, proxies of hosted APIs). These APIs take
only a few fixed sizes: the one closest to the target's shape is asked for
(``FLYER_OPENAI_SIZES``). A batch is one call (``n``), or several when the model takes fewer
images per call (``FLYER_OPENAI_MAX_IMAGES``). Images come back as ``b64_json`` (or a ``url``,
fetched). There are no seeds and no negative prompt: the manifest says so. Cancelling stops
waiting; the API has no way to stop a generation it started.
"""

from __future__ import annotations

import functools
import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from ..errors import (
    BackendError,
    BackendResponseError,
    ContentRefused,
    ModelNotFound,
)
from ._batch import Batch
from ._http import HttpServer, Voice, status_error
from ._images import decode_base64_image, decode_image_bytes
from ._sizes import nearest_size
from ._worker import call_cancellable
from .base import (
    Capabilities,
    GeneratedImage,
    Painting,
    PaintRequest,
    ProgressCallback,
)

if TYPE_CHECKING:
    from ..settings import Settings

__all__ = ["OpenAIImagesBackend"]

VOICE = Voice(kind="image API", auth_hint="check FLYER_OPENAI_API_KEY (or OPENAI_API_KEY)")
_REFUSAL_CODES = ("content_policy_violation", "moderation_blocked", "content_filter")


def _error_fields(response: httpx.Response) -> tuple[str, str]:
    """(code or type, message) from an OpenAI-style error body."""
    try:
        body = response.json()
    except ValueError:
        return "", ""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return "", ""
    code = str(error.get("code") or error.get("type") or "")
    return code, " ".join(str(error.get("message") or "").split())[:300]


class OpenAIImagesBackend:
    """Paints backgrounds through one OpenAI-compatible images API."""

    name = "openai"
    capabilities = Capabilities(seeds=False, negative_prompt=False, batching=True,
                                progress=False, cancel=False, slots=4)

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        model: str = "gpt-image-1",
        sizes: tuple[tuple[int, int], ...] = ((1024, 1024), (1024, 1536), (1536, 1024)),
        max_images: int = 10,
        client: httpx.Client | None = None,
        connect_timeout: float = 10,
        read_timeout: float = 120,
        poll_interval: float = 0.5,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.http = HttpServer(base_url, client=client, voice=VOICE, secret=api_key,
                               headers=headers, connect_timeout=connect_timeout,
                               read_timeout=read_timeout)
        self._prefix = "" if urlsplit(self.http.base_url).path.endswith("/v1") else "/v1"
        self._model = model
        self.sizes = sizes
        self.max_images = max(1, max_images)
        self._poll = poll_interval

    @classmethod
    def from_settings(cls, settings: Settings, url: str,
                      client: httpx.Client | None = None) -> OpenAIImagesBackend:
        section = settings.openai
        return cls(url, api_key=section.api_key, model=section.model, sizes=section.sizes,
                   max_images=section.max_images, client=client,
                   connect_timeout=settings.sd_connect_timeout,
                   read_timeout=settings.sd_read_timeout)

    @property
    def model(self) -> str:
        return self._model

    @property
    def server(self) -> str:
        return self.http.public_url

    def close(self) -> None:
        """Close the HTTP client this backend made (the studio's lifespan calls it)."""
        self.http.close()

    def check(self) -> None:
        """``GET /v1/models``: a wrong key or a dead server shows here; a 404 is fine (some
        compatible servers do not list models)."""
        response = self.http.send("GET", f"{self._prefix}/models", read_timeout=10.0)
        if not response.is_success and response.status_code != 404:
            raise status_error(response, self.server, VOICE, self.http.secret)

    def paint_size(self, request: PaintRequest) -> tuple[int, int]:
        return nearest_size(request.aspect, self.sizes)

    # --- generation -----------------------------------------------------------------------------
    def generate(
        self,
        request: PaintRequest,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> Painting:
        batch = Batch.start(self, request, progress, cancel)
        width, height = batch.size

        def paint(done: int, n: int) -> list[GeneratedImage]:
            body: dict[str, Any] = {"model": self._model, "prompt": request.prompt, "n": n,
                                    "size": f"{width}x{height}"}
            if not self._model.startswith("gpt-image"):
                body["response_format"] = "b64_json"
            response = call_cancellable(functools.partial(self._post, body, n), batch.cancel,
                                        poll_interval=self._poll, name="openai-images")
            return self._decode(response, n, done)

        images, calls = batch.in_calls(
            self.max_images, paint,
            lambda done, n: f"asked {self.server} for {n} image(s) of {width}×{height}",
            share=0.95)
        return batch.finish(self, images, {
            "requested_size": f"{width}x{height}", "calls": calls,
            "seeds": "not supported by this API",
            "negative_prompt": "not supported by this API"})

    def _post(self, body: dict[str, Any], n: int) -> httpx.Response:
        response = self.http.send("POST", f"{self._prefix}/images/generations",
                                  read_timeout=self.http.read_timeout * n, json=body)
        if response.is_success:
            return response
        raise self._error(response)

    def _error(self, response: httpx.Response) -> BackendError:
        code, message = _error_fields(response)
        where = self.server
        if code in _REFUSAL_CODES or (response.status_code == 400 and "safety" in message.lower()):
            return ContentRefused(
                f"The image API at {where} refused the prompt under its content policy "
                f"({message or code}); reword the prompt."
            )
        if code == "model_not_found" or (response.status_code == 404 and "model" in message):
            return ModelNotFound(
                f"The image API at {where} has no model {self._model!r}; set "
                "FLYER_OPENAI_MODEL to one it serves."
            )
        if code == "invalid_size":
            return BackendResponseError(
                f"The image API at {where} refused the size ({message}); list the sizes it "
                "accepts in FLYER_OPENAI_SIZES."
            )
        return status_error(response, where, VOICE, self.http.secret)

    def _decode(self, response: httpx.Response, n: int, offset: int) -> list[GeneratedImage]:
        where = self.server
        try:
            data = response.json().get("data")
        except (ValueError, AttributeError):
            raise BackendResponseError(
                f"The image API at {where} did not answer with JSON; is the URL really an "
                "OpenAI-compatible API (FLYER_OPENAI_URL)?"
            ) from None
        if not isinstance(data, list):
            raise BackendResponseError(f"The image API at {where} answered without images.")
        if len(data) < n:
            raise BackendResponseError(
                f"The image API at {where} returned {len(data)} image(s) instead of {n}; "
                "try again or lower the batch size (or FLYER_OPENAI_MAX_IMAGES)."
            )
        images = []
        for index, item in enumerate(data[:n]):
            what = f"image {offset + index + 1} from the image API at {where}"
            item = item if isinstance(item, dict) else {}
            if "b64_json" in item:
                image = decode_base64_image(item["b64_json"], what)
            elif isinstance(item.get("url"), str):
                image = decode_image_bytes(self._fetch(item["url"]), what)
            else:
                raise BackendResponseError(f"The {what} has neither b64_json nor url.")
            images.append(GeneratedImage(image=image, seed=None))
        return images

    def _fetch(self, url: str) -> bytes:
        try:
            response = self.http.client.get(url, timeout=self.http.timeout(60.0))
        except httpx.HTTPError as exc:
            raise BackendResponseError(
                f"Could not fetch an image the API at {self.server} pointed to "
                f"({type(exc).__name__})."
            ) from None
        if not response.is_success:
            raise BackendResponseError(
                f"The image URL the API at {self.server} gave answered HTTP "
                f"{response.status_code}."
            )
        return response.content
