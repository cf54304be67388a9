"""The plumbing of one ``generate`` call, the same in every backend: where progress goes, the
job's cancel event, the paint size, the first seed, the loop of calls for APIs that paint a few
images per call, and the :class:`~.base.Painting` at the end. A backend keeps only its
protocol: what it sends and how it reads the answer.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import BackendCancelled
from ._worker import CANCELLED
from .base import (
    GeneratedImage,
    ImageBackend,
    Painting,
    PaintRequest,
    ProgressCallback,
    no_progress,
)

__all__ = ["Batch"]


@dataclass(frozen=True)
class Batch:
    """``Batch.start(backend, request, progress, cancel)`` at the top of ``generate``."""

    request: PaintRequest
    report: ProgressCallback
    cancel: threading.Event
    """This job's own event (a fresh one when the caller gave none)."""
    size: tuple[int, int]
    """The backend's paint size for the request (width, height)."""

    @classmethod
    def start(cls, backend: ImageBackend, request: PaintRequest,
              progress: ProgressCallback | None, cancel: threading.Event | None) -> Batch:
        return cls(request=request, report=progress or no_progress,
                   cancel=cancel if cancel is not None else threading.Event(),
                   size=backend.paint_size(request))

    def first_seed(self, bound: int = 2**31) -> int:
        """The request's seed, or a random one below ``bound`` when it asks for one (-1)."""
        seed = self.request.seed
        return seed if seed >= 0 else random.SystemRandom().randrange(bound)

    def check_cancel(self) -> None:
        """Raise BackendCancelled if the job was cancelled (before sending anything)."""
        if self.cancel.is_set():
            raise BackendCancelled(CANCELLED)

    def in_calls(self, per_call: int, paint: Callable[[int, int], list[GeneratedImage]],
                 message: Callable[[int, int], str], *,
                 share: float = 0.99) -> tuple[list[GeneratedImage], int]:
        """All ``request.count`` images, ``per_call`` at a time: ``paint(done, n)`` returns the
        next ``n`` images after the ``done`` ones; before each call progress is reported as
        ``done / count`` of ``share`` with ``message(done, n)``. Returns (images, calls)."""
        count = self.request.count
        images: list[GeneratedImage] = []
        calls = 0
        while len(images) < count:
            done = len(images)
            n = min(per_call, count - done)
            self.report(done / count * share, message(done, n))
            images.extend(paint(done, n))
            calls += 1
        return images, calls

    def finish(self, backend: ImageBackend, images: list[GeneratedImage],
               details: dict[str, Any] | None = None) -> Painting:
        """Report "done" and describe what ``backend`` painted."""
        self.report(1.0, "done")
        size = images[0].image.size if images else self.size
        return Painting(images=images, backend=backend.name, model=backend.model,
                        server=backend.server, size=size, details=details or {})
