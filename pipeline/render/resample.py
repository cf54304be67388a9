"""Resize big images on several cores, pixel-identical to one ``Image.resize`` call.

Pillow's resampler releases the GIL and, when given a ``box``, reads the filter's support from
outside that box, so resizing horizontal strips of the output (each with its slice of the
source box) and pasting them together gives the same pixels as resizing the whole image. The
strip count is a constant, so the result never depends on the machine's core count.
"""

from __future__ import annotations

import os
from concurrent.futures import Executor, Future

from PIL import Image

__all__ = ["STRIPS", "start_strips", "workers"]

STRIPS = 4
"""Output strips per resize (constant: the pixels must not depend on the machine)."""
MIN_PARALLEL_PIXELS = 250_000
"""Smaller outputs are resized in one call: threads cost more than they save."""


def workers() -> int:
    """Threads worth using: the usable cores, at most one per strip."""
    try:
        return max(1, min(STRIPS, len(os.sched_getaffinity(0))))
    except AttributeError:  # not on Linux
        return max(1, min(STRIPS, os.cpu_count() or 1))


def start_strips(pool: Executor, image: Image.Image, size: tuple[int, int],
                 method: Image.Resampling,
                 box: tuple[float, float, float, float] | None = None
                 ) -> list[tuple[int, Future[Image.Image]]]:
    """Start resizing on ``pool`` in horizontal strips: (first row, strip) pairs, top to
    bottom, that together are ``image.resize(size, method, box=box)`` (one strip for a
    small output). The caller can do other (GIL-bound) work meanwhile, or work on each
    strip as it arrives."""
    width, height = size
    src = box if box is not None else (0.0, 0.0, float(image.width), float(image.height))
    image.load()
    if width * height < MIN_PARALLEL_PIXELS or height < 2 * STRIPS:
        return [(0, pool.submit(image.resize, size, method, src))]
    cuts = [round(height * i / STRIPS) for i in range(STRIPS + 1)]
    step = (src[3] - src[1]) / height

    def strip(i: int) -> Image.Image:
        top, bottom = cuts[i], cuts[i + 1]
        part = (src[0], src[1] + top * step, src[2], src[1] + bottom * step)
        return image.resize((width, bottom - top), method, box=part)

    return [(cuts[i], pool.submit(strip, i)) for i in range(STRIPS)]
