"""The one interface every image backend implements."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from PIL import Image

__all__ = ["GeneratedImage", "GenerationParams", "ImageBackend", "ProgressCallback"]

ProgressCallback = Callable[[float, str], None]
"""Called with (fraction done in [0, 1], a short human message)."""


@dataclass(frozen=True)
class GenerationParams:
    """One batch request to a backend. ``width``/``height`` are what the backend should paint
    (already near the model's native area, multiples of 8); the compositor scales up later."""

    prompt: str
    width: int
    height: int
    batch_size: int = 1
    negative_prompt: str = ""
    seed: int = -1
    """-1 means random; otherwise image i of the batch uses seed + i (as AUTOMATIC1111 does)."""
    steps: int = 25
    cfg_scale: float = 7.0
    sampler: str = "DPM++ 2M"
    palette: tuple[str, ...] = field(default_factory=tuple)
    """Optional brand colours as '#rrggbb'; the procedural backend paints with them."""


@dataclass(frozen=True)
class GeneratedImage:
    image: Image.Image
    """RGB image of the requested size."""
    seed: int
    """The seed that reproduces this exact image."""


@runtime_checkable
class ImageBackend(Protocol):
    """Paints a batch of backgrounds. Raises only BackendError subclasses."""

    name: str

    @property
    def model(self) -> str:
        """Human-readable model name for the manifest (e.g. 'sd_xl_base_1.0')."""
        ...

    def generate(
        self,
        params: GenerationParams,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> list[GeneratedImage]:
        """Paint ``params.batch_size`` images in one job, reporting progress as it goes.

        Setting ``cancel`` (from any thread) stops this job and only this one: ``generate``
        raises BackendCancelled; a server is interrupted only while it paints this job.
        """
        ...

    def cancel(self) -> None:
        """Ask the job this backend runs now (if any) to stop; its ``generate`` then raises
        BackendCancelled. Prefer ``generate``'s ``cancel`` event, which names the job."""
        ...
