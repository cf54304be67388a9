"""Image backends: a name -> factory registry, one module per implementation.

Every backend is wrapped in a :class:`~.pool.ServerPool`, even with one server (and the offline
painter, whose "server" is this process): the pool is the one concurrency gate of every door
(``slots`` jobs per server at a time, a bounded first-come line of FLYER_QUEUE_SIZE waiting jobs
told their place, FLYER_QUEUE_MAX_WAIT, least-busy dispatch, failover, health checks).
"""

from __future__ import annotations

from collections.abc import Callable

import httpx

from ..errors import ConfigError
from ..settings import Settings
from .base import (
    Capabilities,
    GeneratedImage,
    ImageBackend,
    Painting,
    PaintRequest,
    ProgressCallback,
    close_backend,
    open_backend,
)
from .jobs import PaintJob, start_job
from .pool import ServerPool

__all__ = [
    "BACKENDS",
    "Capabilities",
    "GeneratedImage",
    "ImageBackend",
    "PaintJob",
    "PaintRequest",
    "Painting",
    "ProgressCallback",
    "ServerPool",
    "close_backend",
    "create_backend",
    "open_backend",
    "start_job",
]

BackendFactory = Callable[[Settings, "httpx.Client | None"], ImageBackend]


def _pool(settings: Settings, members: list[ImageBackend]) -> ServerPool:
    return ServerPool(members, health_interval=settings.pool_health_interval,
                      max_wait=settings.queue_max_wait_seconds, max_waiting=settings.queue_size)


def _automatic1111(settings: Settings, client: httpx.Client | None) -> ImageBackend:
    from .automatic1111 import A1111Options, Automatic1111Backend

    if not settings.sd_instances:
        raise ConfigError(
            "STABLE_DIFUSION_INSTANCE",
            "no Stable Diffusion server configured: set it (e.g. http://127.0.0.1:7860) "
            "or use the procedural backend",
        )
    side = settings.sd_native_size
    if settings.model_family is not None:
        from ._sizes import model_family

        side = int(model_family(settings.model_family).area ** 0.5)
    options = A1111Options(steps=settings.sd_steps, cfg_scale=settings.sd_cfg_scale,
                           sampler=settings.sd_sampler, native_side=side,
                           upscaler=settings.sd_upscaler)
    return _pool(settings, [
        Automatic1111Backend(url, client=client, auth=settings.sd_auth,
                             connect_timeout=settings.sd_connect_timeout,
                             read_timeout=settings.sd_read_timeout, options=options)
        for url in settings.sd_instances
    ])


def _comfyui(settings: Settings, client: httpx.Client | None) -> ImageBackend:
    from .comfyui import ComfyUIBackend

    return _pool(settings, [ComfyUIBackend.from_settings(settings, url, client=client)
                            for url in settings.comfyui.urls])


def _openai(settings: Settings, client: httpx.Client | None) -> ImageBackend:
    from .openai_images import OpenAIImagesBackend

    return _pool(settings, [OpenAIImagesBackend.from_settings(settings, url, client=client)
                            for url in settings.openai.urls])


def _hf_inference(settings: Settings, client: httpx.Client | None) -> ImageBackend:
    from .hf_inference import HFInferenceBackend

    endpoints: tuple[str | None, ...] = settings.hf.endpoints or (None,)
    return _pool(settings, [HFInferenceBackend.from_settings(settings, endpoint)
                            for endpoint in endpoints])


def _diffusers(settings: Settings, client: httpx.Client | None) -> ImageBackend:
    from .diffusers_local import DiffusersBackend

    return _pool(settings, [DiffusersBackend.from_settings(settings)])


def _procedural(settings: Settings, client: httpx.Client | None) -> ImageBackend:
    from .procedural import ProceduralBackend

    return _pool(settings, [ProceduralBackend()])


BACKENDS: dict[str, BackendFactory] = {
    "automatic1111": _automatic1111,
    "comfyui": _comfyui,
    "openai": _openai,
    "hf-inference": _hf_inference,
    "diffusers": _diffusers,
    "procedural": _procedural,
}


def create_backend(
    name: str, settings: Settings, client: httpx.Client | None = None
) -> ImageBackend:
    """Build the backend called ``name``; an unknown name lists the valid ones."""
    try:
        factory = BACKENDS[name]
    except KeyError:
        raise ConfigError(
            "FLYER_BACKEND", f"unknown backend {name!r}; valid: {', '.join(sorted(BACKENDS))}"
        ) from None
    return factory(settings, client)
