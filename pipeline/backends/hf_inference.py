"""Hugging Face Inference backend: ``huggingface_hub.InferenceClient.text_to_image``.

The model (``FLYER_HF_MODEL``) runs at an inference provider (``FLYER_HF_PROVIDER``: ``auto``
picks one serving it) or at a dedicated Inference Endpoint (``FLYER_HF_ENDPOINT``), billed to
the token in ``HF_TOKEN`` — the usual Space secret, which makes this the default backend of a
Space with a token and no server. The API paints one image per call, so a batch is ``count``
calls; each gets its own seed (seed + i), which the providers that take a seed honour. Cancel
stops waiting (a started call cannot be stopped). ``huggingface_hub``'s errors are translated
here, once.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import (
    BackendAuthError,
    BackendError,
    BackendResponseError,
    BackendTimeout,
    BackendUnavailable,
    ContentRefused,
    ModelNotFound,
    QuotaExhausted,
    RateLimited,
)
from ._batch import Batch
from ._http import public_url, retry_after, scrub
from ._sizes import ModelFamily, model_family
from ._worker import call_cancellable
from .base import (
    Capabilities,
    GeneratedImage,
    Painting,
    PaintRequest,
    ProgressCallback,
)

if TYPE_CHECKING:
    from PIL import Image

    from ..settings import Settings

__all__ = ["HFInferenceBackend"]

_REFUSAL_WORDS = ("nsfw", "content policy", "safety", "unsafe", "moderation")
TextToImage = Callable[..., "Image.Image"]


def _client_for(model: str, provider: str, endpoint: str | None, token: str | None,
                timeout: float) -> TextToImage:
    """``InferenceClient(...).text_to_image``; an endpoint URL is called directly."""
    try:
        from huggingface_hub import InferenceClient
    except ImportError:  # pragma: no cover - huggingface_hub comes with gradio
        raise BackendUnavailable(
            "Hugging Face Inference needs huggingface_hub: pip install 'flyer-studio[hf]'."
        ) from None
    if endpoint is not None:
        client = InferenceClient(model=endpoint, provider="hf-inference", token=token,
                                 timeout=timeout)
    else:
        client = InferenceClient(model=model, provider=provider, token=token,  # type: ignore[arg-type]
                                 timeout=timeout)
    return client.text_to_image


def _is_transport_error(exc: BaseException) -> bool:
    return any(cls.__module__.split(".")[0] in ("httpx", "httpx2")
               and cls.__name__ in ("TransportError", "TimeoutException")
               for cls in type(exc).__mro__)


class HFInferenceBackend:
    """Paints backgrounds through Hugging Face Inference (a provider or an endpoint)."""

    name = "hf-inference"
    capabilities = Capabilities(seeds=True, negative_prompt=True, batching=False,
                                progress=False, cancel=False, slots=2)

    def __init__(
        self,
        *,
        model: str = "black-forest-labs/FLUX.1-schnell",
        provider: str = "auto",
        endpoint: str | None = None,
        token: str | None = None,
        family: ModelFamily | None = None,
        steps: int | None = None,
        read_timeout: float = 120,
        poll_interval: float = 0.5,
        text_to_image: TextToImage | None = None,
    ) -> None:
        self._model = model
        self.provider = "hf-inference" if endpoint else provider
        self.endpoint = endpoint
        self._token = token
        self.family = family or model_family("flux")
        self.steps = steps
        self._timeout = read_timeout
        self._poll = poll_interval
        self._call = text_to_image or _client_for(model, provider, endpoint, token, read_timeout)
        # the InferenceClient this backend made (an injected function is its owner's)
        self._client = None if text_to_image else getattr(self._call, "__self__", None)

    @classmethod
    def from_settings(cls, settings: Settings, endpoint: str | None) -> HFInferenceBackend:
        section = settings.hf
        return cls(model=section.model, provider=section.provider, endpoint=endpoint,
                   token=section.token,
                   family=model_family(settings.model_family or section.family),
                   steps=section.steps, read_timeout=settings.sd_read_timeout)

    @property
    def model(self) -> str:
        return self._model

    @property
    def server(self) -> str:
        return public_url(self.endpoint) if self.endpoint else f"provider:{self.provider}"

    def close(self) -> None:
        """Close the InferenceClient this backend made (the studio's lifespan calls it)."""
        close = getattr(self._client, "close", None)
        if callable(close):
            close()

    def check(self) -> None:
        """Nothing cheap to ask a provider; a configured token is the precondition."""
        if self.endpoint is None and not self._token:
            raise BackendAuthError(
                "Hugging Face Inference needs a token: set HF_TOKEN (on a Space, as a secret)."
            )

    def paint_size(self, request: PaintRequest) -> tuple[int, int]:
        return self.family.fit(request.aspect, request.pixel_budget)

    def generate(
        self,
        request: PaintRequest,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> Painting:
        batch = Batch.start(self, request, progress, cancel)
        first = batch.first_seed()

        def paint(done: int, n: int) -> list[GeneratedImage]:
            seed = first + done
            call = functools.partial(self._paint_one, request, *batch.size, seed)
            image = call_cancellable(call, batch.cancel, poll_interval=self._poll,
                                     name="hf-inference")
            return [GeneratedImage(image=image, seed=seed)]

        images, calls = batch.in_calls(
            1, paint, lambda done, n: f"painting {done + 1} of {request.count} on {self.server}")
        return batch.finish(self, images, {"provider": self.provider, "calls": calls,
                                           "seeds": "sent to the provider (seed + i per image)"})

    def _paint_one(self, request: PaintRequest, width: int, height: int,
                   seed: int) -> Image.Image:
        try:
            image = self._call(request.prompt, negative_prompt=request.negative_prompt or None,
                               width=width, height=height, num_inference_steps=self.steps,
                               seed=seed)
            image.load()
            return image.convert("RGB")
        except Exception as exc:  # third-party errors, translated once, here
            raise self._translate(exc) from None

    def _translate(self, exc: Exception) -> BackendError:
        where = self.server
        response: Any = getattr(exc, "response", None)
        status = getattr(response, "status_code", None)
        if isinstance(status, int):
            text = scrub(" ".join(str(getattr(response, "text", "")).split())[:200], self._token)
            lowered = text.lower()
            if status in (401, 403):
                return BackendAuthError(
                    f"Hugging Face Inference refused the token (HTTP {status}) at {where}; set "
                    "HF_TOKEN to a token allowed to call Inference Providers.")
            if status == 402 or "credits" in lowered:
                return QuotaExhausted(
                    "The Hugging Face account has used up its Inference credits (HTTP "
                    f"{status}); add credits, wait for next month, or switch backend.")
            if status == 404:
                return ModelNotFound(
                    f"{self._model!r} is not available at {where} (HTTP 404); set FLYER_HF_MODEL "
                    "to a text-to-image model the provider serves.")
            if status == 429:
                wait = retry_after(response)
                return RateLimited(
                    f"Hugging Face Inference is rate limiting us (HTTP 429); try again "
                    f"{f'in {wait:.0f} s' if wait is not None else 'in a minute'}.",
                    retry_after=wait)
            if status in (400, 422) and any(word in lowered for word in _REFUSAL_WORDS):
                return ContentRefused(
                    f"The provider refused the prompt under its content policy ({text}); "
                    "reword the prompt.")
            if status == 503:
                return BackendUnavailable(
                    f"The model at {where} is not ready (HTTP 503: {text}); try again shortly.")
            if status >= 500 and "out of memory" in lowered:
                return BackendResponseError(
                    "The Hugging Face model ran out of GPU memory: try a smaller size.")
            return BackendResponseError(f"Hugging Face Inference at {where} answered HTTP "
                                        f"{status}{f': {text}' if text else ''}.")
        if isinstance(exc, TimeoutError) or type(exc).__name__ == "InferenceTimeoutError":
            return BackendTimeout(
                f"Hugging Face Inference at {where} did not answer within {self._timeout:g} s; "
                "try again or raise FLYER_SD_READ_TIMEOUT.")
        if _is_transport_error(exc):
            return BackendUnavailable(
                f"Hugging Face Inference not reachable at {where}; is the network up? "
                f"({type(exc).__name__})")
        if isinstance(exc, ValueError) and "not supported" in str(exc):
            return ModelNotFound(scrub(f"{exc} Set FLYER_HF_MODEL or FLYER_HF_PROVIDER.",
                                       self._token))
        if isinstance(exc, OSError):
            return BackendResponseError(
                f"Hugging Face Inference at {where} answered with something that is not an "
                "image.")
        return BackendResponseError(scrub(
            f"Hugging Face Inference at {where} failed ({type(exc).__name__}: {exc}).",
            self._token))
