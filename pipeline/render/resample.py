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
the rest continues the picture's edge colours, settling into their mean away from it (a calm
ground for text, in the picture's own colours). The picture fades into it over ``FEATHER`` of
the canvas's short side, so no hard line runs through a card or a block of text laid across
the join.
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


def _inside(image: Image.Image, box: tuple[float, float, float, float]
            ) -> tuple[float, float, float, float]:
    return (max(0.0, box[0]), max(0.0, box[1]),
            min(float(image.width), box[2]), min(float(image.height), box[3]))


EDGE_DEPTH = 0.06
"""Depth of the picture's edge strip whose colours the backdrop continues, as a share of the
picture along the filled axis."""
FADE = 0.15
"""Distance (a share of the canvas's short side) over which the backdrop's colours settle
from the picture's edge towards the edge's mean colour (an e-folding distance)."""


def _backdrop(image: Image.Image, size: tuple[int, int],
              inner: tuple[float, float, float, float], span: tuple[int, int],
              across: bool) -> Image.Image:
    """What lies beyond a filled crop's picture: its edge colours continued, softened and
    settling into the edge's mean colour away from it, so the picture meets a calm ground of
    its own colours with no break at the join (``inner``: the picture's part in source
    pixels; ``span``: where it lies along the filled axis, canvas px; ``across``: the
    filled axis is the width). Painted ``BACKDROP_CELLS`` px along the long side, then
    enlarged (smooth, no blocks)."""
    if across:  # work on the transposed picture: the filled axis is then the height
        flipped = _backdrop(image.transpose(Image.Transpose.TRANSPOSE), (size[1], size[0]),
                            (inner[1], inner[0], inner[3], inner[2]), span, False)
        return flipped.transpose(Image.Transpose.TRANSPOSE)
    w, h = size
    cell = max(size) / BACKDROP_CELLS
    sw, sh = max(2, round(w / cell)), max(2, round(h / cell))
    depth = max(1.0, EDGE_DEPTH * (inner[3] - inner[1]))

    def profile(top: float) -> np.ndarray:
        row = image.resize((sw, 1), Image.Resampling.BOX,
                           box=(inner[0], top, inner[2], top + depth))
        values = np.asarray(row, dtype=np.float32)
        return cv2.GaussianBlur(values, (0, 0), 3.0)[0]

    ends = (profile(inner[1]), profile(inner[3] - depth))
    ys = (np.arange(sh, dtype=np.float32) + 0.5) * h / sh
    first = ys < (span[0] + span[1]) / 2
    distance = np.where(first, np.maximum(0.0, span[0] - ys), np.maximum(0.0, ys - span[1]))
    weight = np.exp(-distance / (FADE * min(size)))[:, None, None]
    edge = np.where(first[:, None, None], ends[0][None], ends[1][None])
    mean = np.where(first[:, None, None], ends[0].mean(axis=0), ends[1].mean(axis=0))
    small = (mean + (edge - mean) * weight).astype(np.float32)
    out = cv2.resize(small, size, interpolation=cv2.INTER_CUBIC)
    return Image.fromarray(np.clip(out + 0.5, 0, 255).astype(np.uint8), "RGB")


FEATHER = 0.04
"""Width of the fade from a filled crop's picture into its backdrop, as a share of the
canvas's short side (inside the picture, on each side that meets the backdrop)."""


def _fade_in(canvas: Image.Image, part: Image.Image, at: tuple[int, int],
             sides: tuple[bool, bool, bool, bool], width: int) -> None:
    """Paste ``part`` on ``canvas`` at ``at``, fading in from the canvas over ``width`` px
    on each of its ``sides`` (left, top, right, bottom) that is set: only those bands are
    blended (the canvas under them is kept, then laid back over the part through a ramp)."""
    w, h = part.size
    kept: list[tuple[Image.Image, tuple[int, int], Image.Image]] = []
    for index, on in enumerate(sides):
        n = min(width, (w if index % 2 == 0 else h) // 2)
        if not on or n < 2:
            continue
        ramp = 255 - ((np.arange(n, dtype=np.float32) + 0.5) / n * 255.0 + 0.5).astype(np.uint8)
        if index >= 2:  # right, bottom: the ramp runs the other way
            ramp = ramp[::-1]
        x0 = at[0] + (w - n if index == 2 else 0)
        y0 = at[1] + (h - n if index == 3 else 0)
        box = (x0, y0, x0 + (n if index % 2 == 0 else w), y0 + (h if index % 2 == 0 else n))
        ramps = (np.broadcast_to(ramp[None, :], (h, n)) if index % 2 == 0
                 else np.broadcast_to(ramp[:, None], (n, w)))
        kept.append((canvas.crop(box), (x0, y0),
                     Image.fromarray(np.ascontiguousarray(ramps), "L")))
    canvas.paste(part, at)
    for band, corner, fade in kept:
        canvas.paste(band, corner, fade)


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
    across = top <= 0 and bottom >= size[1]  # the picture spans the height: filled across
    canvas = _backdrop(image, size, inner, (left, right) if across else (top, bottom), across)
    part_size = (max(1, right - left), max(1, bottom - top))
    if part_size[0] > inner[2] - inner[0]:
        part = enlarge(image, part_size, inner)
    else:
        part = image.resize(part_size, Image.Resampling.LANCZOS, box=inner)
    sides = (left > 0, top > 0, right < size[0], bottom < size[1])
    _fade_in(canvas, part, (left, top), sides, round(FEATHER * min(size)))
    return canvas
