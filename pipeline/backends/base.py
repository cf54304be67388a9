"""The one interface every image backend implements, in neutral terms.

A :class:`PaintRequest` says *what* to paint (prompt, negative prompt, seed, how many, the
target's aspect ratio, a pixel budget, a palette hint); each backend decides *how*: its own
paint size (:meth:`ImageBackend.paint_size`), its own settings (sampler, steps, workflow file,
model id... given to its constructor, never per request), and what it can do
(:class:`Capabilities`). ``generate`` is a function of plain data: a request in, a
:class:`Painting` (images, seeds, which model on which server) out, so it can run in another
thread, process (ZeroGPU) or machine (a pool of servers).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from PIL import Image

__all__ = [
    "Capabilities",
    "GeneratedImage",
    "ImageBackend",
    "PaintRequest",
    "Painting",
    "ProgressCallback",
    "close_backend",
    "no_progress",
    "open_backend",
]

ProgressCallback = Callable[[float, str], None]
"""Called with (fraction done in [0, 1], a short human message)."""


def no_progress(fraction: float, message: str) -> None:
    """A progress callback that ignores its reports."""
    return None


@dataclass(frozen=True)
class PaintRequest:
    """One batch: ``count`` backgrounds for a target of ``aspect`` (width, height)."""

    prompt: str
    aspect: tuple[int, int] = (1, 1)
    """The target's width and height (any unit): only their ratio matters."""
    count: int = 1
    negative_prompt: str = ""
    seed: int = -1
    """-1 means random; otherwise image i of the batch uses seed + i where the backend can."""
    pixel_budget: int | None = None
    """Most pixels worth painting per image (e.g. the target's own area); None: no cap."""
    palette: tuple[str, ...] = ()
    """Optional brand colours as '#rrggbb' (the procedural backend paints with them)."""


@dataclass(frozen=True)
class Capabilities:
    """What a backend supports; shown in the README's table and the manifest."""

    seeds: bool = True
    """The same seed paints the same image, and the seed of each image is known."""
    negative_prompt: bool = True
    batching: bool = True
    """A whole batch is one call to the server."""
    progress: bool = True
    """Progress is reported while painting (not just at the start and the end)."""
    cancel: bool = True
    """Cancelling stops the work on the server (otherwise we only stop waiting)."""
    slots: int = 1
    """Jobs one server runs at once (a GPU server: 1)."""


@dataclass(frozen=True)
class GeneratedImage:
    image: Image.Image
    """RGB image, of the painted size."""
    seed: int | None
    """The seed that reproduces this exact image; None when the backend cannot say."""
    faces: bool = True
    """Whether the picture may show faces. False only from a painter that cannot paint one
    (the offline painter's gradients, glows and rays): its analysis then skips the face
    searches, ~20 ms of a flyer's ~30 ms of analysis, and finds the same (no faces in 150 of
    its paintings searched)."""


@dataclass(frozen=True)
class Painting:
    """What one ``generate`` call produced, and by what: the manifest's source of truth."""

    images: list[GeneratedImage]
    backend: str
    model: str
    server: str | None = None
    """The public URL (no credentials) of the server that painted, None when in-process."""
    size: tuple[int, int] = (0, 0)
    """The painted size (width, height)."""
    details: dict[str, Any] = field(default_factory=dict)
    """Backend-specific facts worth keeping (sampler, steps, workflow...), JSON-ready."""

    def describe(self) -> dict[str, Any]:
        """The manifest's fields for this painting."""
        return {
            "backend": self.backend,
            "model": self.model,
            "server": self.server,
            "generated_size": list(self.size),
            "seeds_reproducible": all(image.seed is not None for image in self.images),
            **self.details,
        }


@runtime_checkable
class ImageBackend(Protocol):
    """Paints a batch of backgrounds. Raises only BackendError subclasses."""

    name: str

    @property
    def model(self) -> str:
        """Human-readable model name for the manifest (e.g. 'sd_xl_base_1.0')."""
        ...

    @property
    def server(self) -> str | None:
        """The public URL of the server this backend talks to; None when in-process."""
        ...

    @property
    def capabilities(self) -> Capabilities: ...

    def paint_size(self, request: PaintRequest) -> tuple[int, int]:
        """The (width, height) this backend paints for ``request``: the target's aspect at
        the model's natural size, within the request's pixel budget."""
        ...

    def check(self) -> None:
        """A cheap health check: return when the backend can paint, else raise BackendError."""
        ...

    def generate(
        self,
        request: PaintRequest,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> Painting:
        """Paint ``request.count`` images, in one call where the protocol allows.

        Setting ``cancel`` (from any thread) stops this job and only this one: ``generate``
        raises BackendCancelled; a server is interrupted only while it paints this job.
        """
        ...


def open_backend(backend: ImageBackend) -> None:
    """Start what ``backend`` runs in the background, if anything (a pool's health checks).

    Lifecycle is optional in the protocol: a backend holding resources defines ``start()``
    and/or ``close()``; the studio's lifespan calls them through these two functions."""
    start = getattr(backend, "start", None)
    if callable(start):
        start()


def close_backend(backend: ImageBackend) -> None:
    """Release what ``backend`` holds, if anything (HTTP clients, a pool's health thread).
    Closing twice is harmless; a closed backend refuses to paint with a BackendError."""
    close = getattr(backend, "close", None)
    if callable(close):
        close()
