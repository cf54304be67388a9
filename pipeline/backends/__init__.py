"""Image backends: a name -> factory registry, one module per implementation."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from ..errors import ConfigError
from ..settings import Settings
from .base import GeneratedImage, GenerationParams, ImageBackend, ProgressCallback

__all__ = [
    "BACKENDS",
    "GeneratedImage",
    "GenerationParams",
    "ImageBackend",
    "ProgressCallback",
    "create_backend",
]

BackendFactory = Callable[[Settings, "httpx.Client | None"], ImageBackend]


def _automatic1111(settings: Settings, client: httpx.Client | None) -> ImageBackend:
    from .automatic1111 import Automatic1111Backend

    return Automatic1111Backend.from_settings(settings, client=client)


def _procedural(settings: Settings, client: httpx.Client | None) -> ImageBackend:
    from .procedural import ProceduralBackend

    return ProceduralBackend()


BACKENDS: dict[str, BackendFactory] = {
    "automatic1111": _automatic1111,
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
