"""Resize big images: enlarge with OpenCV, shrink on several cores with Pillow.

``enlarge``: a painting (512-1024 px) blown up to a 1080-px post or a 300-dpi page is the
costliest step of a composition with Pillow's bicubic (23 ms CPU for 456×568 → 1080×1350 on
this project's 2-core machine, 114 ms for an A4 page); OpenCV's bicubic does the same in
3.4 ms (its kernel is a touch sharper, a = -0.75 against Pillow's -0.5: a mean difference of
0.3 levels, at most 2). It works on whole source pixels, so the crop is rounded to them (at
most half a source pixel on each side, a 0.1 % change of scale on a 512-px painting).

``start_strips`` (shrinking a big upload): Pillow's resampler releases the GIL and, when
given a ``box``, reads the filter's support from outside that box, so resizing horizontal
strips of the output (each with its slice of the source box) and pasting them together gives
the same pixels as resizing the whole image. The strip count is a constant, so the result
never depends on the machine's core count.

``fill_out``: a filled crop (``focal``) reaches beyond the picture, so that a subject wider
than any crop of the target's ratio stays whole: the picture is resized into its place and
the rest is the picture itself, cover-fitted, blurred and toned down (what apps show around a
landscape photo on a story).
"""

from __future__ import annotations

import os
from concurrent.futures import Executor, Future

import cv2
import numpy as np
from PIL import Image

from ..pixels import pixels as raw_pixels

__all__ = ["STRIPS", "enlarge", "fill_out", "start_strips", "workers"]

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


def enlarge(image: Image.Image, size: tuple[int, int],
            box: tuple[float, float, float, float]) -> Image.Image:
    """``box`` of an RGB ``image`` (rounded to whole pixels) enlarged to ``size`` with
    OpenCV's bicubic: for blowing a painting up to the canvas, ~7x faster than Pillow's.
    Deterministic whatever OpenCV's thread count (it only splits the rows)."""
    if image.mode != "RGB":
        raise ValueError(f"enlarge takes RGB, not {image.mode}")
    left = min(image.width - 1, max(0, round(box[0])))
    top = min(image.height - 1, max(0, round(box[1])))
    right = max(left + 1, min(image.width, round(box[2])))
    bottom = max(top + 1, min(image.height, round(box[3])))
    pixels = raw_pixels(image)[top:bottom, left:right]
    out = cv2.resize(pixels, size, interpolation=cv2.INTER_CUBIC)
    return Image.fromarray(out, "RGB")


BACKDROP_CELLS = 48
"""The backdrop is painted BACKDROP_CELLS px along its long side, blurred, then enlarged:
the same look at every output size (the measuring surface's small copy and the canvas)."""
BACKDROP_CONTRAST = 0.7
"""The backdrop's contrast against its mean colour: calm, so text on it reads."""


def _inside(image: Image.Image, box: tuple[float, float, float, float]
            ) -> tuple[float, float, float, float]:
    return (max(0.0, box[0]), max(0.0, box[1]),
            min(float(image.width), box[2]), min(float(image.height), box[3]))


def _backdrop(image: Image.Image, size: tuple[int, int],
              box: tuple[float, float, float, float]) -> Image.Image:
    """The picture cover-fitted to ``size`` around the middle of ``box``, blurred and toned
    down: painted small, then enlarged (smooth, so the enlargement shows no blocks)."""
    ratio = size[0] / size[1]
    if image.width / image.height > ratio:
        w, h = image.height * ratio, float(image.height)
    else:
        w, h = float(image.width), image.width / ratio
    cx = min(max((box[0] + box[2]) / 2, w / 2), image.width - w / 2)
    cy = min(max((box[1] + box[3]) / 2, h / 2), image.height - h / 2)
    cell = max(size) / BACKDROP_CELLS
    small_size = (max(2, round(size[0] / cell)), max(2, round(size[1] / cell)))
    small = image.resize(small_size, Image.Resampling.BOX,
                         box=(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2))
    blurred = cv2.GaussianBlur(np.asarray(small, dtype=np.float32), (0, 0), 1.2)
    mean = blurred.reshape(-1, 3).mean(axis=0)
    calm = (mean + (blurred - mean) * BACKDROP_CONTRAST).astype(np.float32)
    out = cv2.resize(calm, size, interpolation=cv2.INTER_CUBIC)
    return Image.fromarray(np.clip(out + 0.5, 0, 255).astype(np.uint8), "RGB")


def fill_out(image: Image.Image, size: tuple[int, int],
             box: tuple[float, float, float, float]) -> Image.Image:
    """``box`` of an RGB ``image`` resized to ``size`` where ``box`` reaches beyond the
    picture: the picture's part in its place (enlarged with OpenCV, or shrunk with Pillow's
    Lanczos) on a backdrop of the picture itself (``_backdrop``)."""
    if image.mode != "RGB":
        raise ValueError(f"fill_out takes RGB, not {image.mode}")
    scale_x = size[0] / (box[2] - box[0])
    scale_y = size[1] / (box[3] - box[1])
    inner = _inside(image, box)
    left = round((inner[0] - box[0]) * scale_x)
    top = round((inner[1] - box[1]) * scale_y)
    right = min(size[0], round((inner[2] - box[0]) * scale_x))
    bottom = min(size[1], round((inner[3] - box[1]) * scale_y))
    canvas = _backdrop(image, size, box)
    part_size = (max(1, right - left), max(1, bottom - top))
    if part_size[0] > inner[2] - inner[0]:
        part = enlarge(image, part_size, inner)
    else:
        part = image.resize(part_size, Image.Resampling.LANCZOS, box=inner)
    canvas.paste(part, (left, top))
    return canvas
