"""WCAG 2.x contrast measured against the actual pixels under an element, worst case.

A :class:`Surface` keeps a downscaled copy of the canvas (or of the source region the canvas
is cover-fitted from) (as linear-light luminance) so that
measuring a box costs a numpy slice and a percentile, and panels drawn on the canvas are
mirrored onto it so later measurements see them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw

from .formats import Format

__all__ = [
    "LARGE_TEXT",
    "NEAR_BLACK",
    "NORMAL_TEXT",
    "WHITE",
    "Surface",
    "contrast",
    "is_large_text",
    "luminance",
    "percentiles",
    "pixel_luminance",
    "worst_contrast",
]

NORMAL_TEXT = 4.5
LARGE_TEXT = 3.0
WHITE: tuple[int, int, int] = (255, 255, 255)
NEAR_BLACK: tuple[int, int, int] = (17, 17, 20)
PERCENTILE = 10
WORK_SIDE = 360
"""Long side of the measuring copy, in px."""


def _linear(values: np.ndarray) -> np.ndarray:
    v = values / 255.0
    out: np.ndarray = np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)
    return out


_LUT = _linear(np.arange(256, dtype=np.float64)).astype(np.float32)
_LUT.setflags(write=False)
_LUT_WEIGHTED = tuple(
    (_LUT * np.float32(w)).astype(np.float32) for w in (0.2126, 0.7152, 0.0722))
for _table in _LUT_WEIGHTED:
    _table.setflags(write=False)


def pixel_luminance(pixels: np.ndarray) -> np.ndarray:
    """WCAG relative luminance (float32) of uint8 pixels (..., 3 or 4: alpha ignored)."""
    out: np.ndarray = _LUT_WEIGHTED[0][pixels[..., 0]]
    out += _LUT_WEIGHTED[1][pixels[..., 1]]
    out += _LUT_WEIGHTED[2][pixels[..., 2]]
    return out


def luminance(c: tuple[int, int, int]) -> float:
    """WCAG relative luminance of an sRGB colour."""
    return float(0.2126 * _LUT[c[0]] + 0.7152 * _LUT[c[1]] + 0.0722 * _LUT[c[2]])


def contrast(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    la, lb = luminance(a), luminance(b)
    return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)


def worst_contrast(colour: tuple[int, int, int], lum: np.ndarray) -> float:
    """The 10th percentile of per-pixel contrast between ``colour`` and luminances ``lum``."""
    if lum.size == 0:
        return 21.0
    # (max + 0.05) / (min + 0.05) == max(r, 1 / r) with r = (l + 0.05) / (lc + 0.05):
    # fewer passes over the pixels, and one array partitioned in place.
    ratio = (lum + np.float32(0.05)).ravel()
    ratio *= np.float32(1 / (luminance(colour) + 0.05))
    np.maximum(ratio, np.reciprocal(ratio), out=ratio)
    k = int(ratio.size * PERCENTILE / 100)
    ratio.partition(k)
    return float(ratio[k])


def percentiles(values: np.ndarray, qs: tuple[float, ...]) -> tuple[float, ...]:
    """``np.percentile(values, qs)`` (linear interpolation, the same figures) by one
    partition of a flat copy: np.percentile sorts out every requested rank through
    ``take_along_axis`` and several copies, ten times the cost on the small arrays here."""
    flat = np.array(values).ravel()
    if flat.size == 0:
        raise ValueError("percentiles of an empty array")
    last = flat.size - 1
    ranks = [q / 100.0 * last for q in qs]
    kth = sorted({min(last, int(np.floor(r))) for r in ranks}
                 | {min(last, int(np.floor(r)) + 1) for r in ranks})
    flat.partition(kth)
    out = []
    for r in ranks:
        lo = min(last, int(np.floor(r)))
        hi = min(last, lo + 1)
        frac = r - lo
        a, b = flat[lo], flat[hi]
        diff = float(b - a)  # numpy's _lerp: the difference in the values' precision,
        a, b = float(a), float(b)  # the rest in float64
        value = b - diff * (1 - frac) if frac >= 0.5 else a + diff * frac
        out.append(float(value))
    return tuple(out)


def is_large_text(size_px: int, bold: bool, fmt: Format) -> bool:
    """WCAG 'large text' (>= 24 px, or bold >= 18.66 px, at 72 dpi), scaled to the canvas.
    Print: px per point = dpi / 72. Social: a post's short side is seen ~360 pt wide."""
    per_pt = fmt.dpi / 72 if fmt.print else min(fmt.width, fmt.height) / 360
    return size_px >= (18.66 if bold else 24) * per_pt


@dataclass
class Surface:
    """A small linear-light RGB copy of the canvas for measuring (not module-level state:
    one per composition)."""

    rgb: np.ndarray
    scale: float
    lum: np.ndarray
    _worst: dict[tuple[tuple[int, ...], tuple[int, ...]], float] = field(
        default_factory=dict, init=False, repr=False, compare=False)
    """``worst_contrast`` by (colour, box) until the surface changes (``write``, ``blend``):
    planning a flyer asks the same question two or three times per line (measured: 64 asks,
    32 different)."""

    @classmethod
    def of_region(cls, source: Image.Image, box: tuple[float, float, float, float],
                  canvas_size: tuple[int, int]) -> Surface:
        """The surface of a canvas of ``canvas_size`` that ``box`` of ``source`` will be
        resized to, measured straight from the source (an area average of the same pixels,
        at most WORK_SIDE px long), so it is ready before the canvas is."""
        factor = max(1, int(max(canvas_size) / WORK_SIDE))
        size = (-(-canvas_size[0] // factor), -(-canvas_size[1] // factor))
        shrink = size[0] <= box[2] - box[0] and size[1] <= box[3] - box[1]
        method = Image.Resampling.BOX if shrink else Image.Resampling.BICUBIC
        small = source.resize(size, method, box=box, reducing_gap=2.0 if shrink else None)
        return cls.of_small(small, size[0] / canvas_size[0])

    @classmethod
    def of_small(cls, small: Image.Image, scale: float) -> Surface:
        """The surface of a canvas already painted small (``scale``: small / canvas)."""
        raw = np.asarray(small if small.mode == "RGB" else small.convert("RGB"))
        return cls(rgb=raw.astype(np.float32), scale=scale, lum=pixel_luminance(raw))

    def copy(self) -> Surface:
        return Surface(rgb=self.rgb.copy(), scale=self.scale, lum=self.lum.copy())

    def region(self, box: tuple[int, int, int, int]) -> tuple[slice, slice]:
        """The rows and columns of this surface that canvas ``box`` covers (never empty)."""
        return self._slice(box)

    def write(self, ys: slice, xs: slice, rgb: np.ndarray) -> None:
        """Replace a region's colours (float sRGB) and their luminance: a backdrop decided
        elsewhere, mirrored so later measurements see it."""
        self._worst.clear()
        self.rgb[ys, xs] = rgb
        self.lum[ys, xs] = _lum(self.rgb[ys, xs])

    def _slice(self, box: tuple[int, int, int, int]) -> tuple[slice, slice]:
        h, w = self.rgb.shape[:2]
        left = min(w - 1, max(0, int(box[0] * self.scale)))
        top = min(h - 1, max(0, int(box[1] * self.scale)))
        right = max(left + 1, min(w, int(np.ceil(box[2] * self.scale))))
        bottom = max(top + 1, min(h, int(np.ceil(box[3] * self.scale))))
        return slice(top, bottom), slice(left, right)

    def worst_contrast(self, colour: tuple[int, int, int], box: tuple[int, int, int, int]
                       ) -> float:
        """``worst_contrast(colour, self.luminance(box))``, remembered until the surface
        changes."""
        key = (tuple(colour), tuple(box))
        found = self._worst.get(key)
        if found is None:
            found = self._worst[key] = worst_contrast(colour, self.luminance(box))
        return found

    def luminance(self, box: tuple[int, int, int, int]) -> np.ndarray:
        ys, xs = self._slice(box)
        out: np.ndarray = self.lum[ys, xs]
        return out

    def blend(self, box: tuple[int, int, int, int], colour: tuple[int, int, int],
              opacity: float, radius: int = 0) -> None:
        """Mirror a (rounded) translucent rectangle drawn on the canvas."""
        ys, xs = self._slice(box)
        h, w = ys.stop - ys.start, xs.stop - xs.start
        m = _rounded_mask(w, h, max(0, int(radius * self.scale))) * np.float32(opacity)
        self._worst.clear()
        region = self.rgb[ys, xs]
        self.rgb[ys, xs] = region * (1 - m) + np.array(colour, dtype=np.float32) * m
        self.lum[ys, xs] = _lum(self.rgb[ys, xs])


@lru_cache(maxsize=32)
def _rounded_mask(w: int, h: int, radius: int) -> np.ndarray:
    """A (h, w, 1) float mask, 1 inside a rounded rectangle (read-only, cached)."""
    mask = Image.new("L", (w, h), 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, w - 1, h - 1), radius=radius, fill=255)
    out: np.ndarray = np.asarray(mask, dtype=np.float32)[..., None] / 255.0
    out.setflags(write=False)
    return out


def _lum(arr: np.ndarray) -> np.ndarray:
    return pixel_luminance(np.clip(arr + 0.5, 0, 255).astype(np.uint8))
