"""Backdrops under text that the picture alone does not carry: gradient scrims and frosted
panels, decided and measured on the Surface before the canvas exists.

* A *scrim* hugs the text: full strength just around each line's box, then it fades out
  (a Gaussian falloff) so there is no box edge anywhere.
* A *frosted* panel blurs the picture under a rounded card and tints it lightly: texture (grass,
  gravel, stars) stops fighting the letters, so far less tint is needed than a scrim would.

Both are built on the surface's own grid, mirrored onto it, and measured exactly like today's
panels: the worst-case (10th percentile) contrast of the actual pixels under each text box. The
canvas gets the same pixels upsampled: a plateau under the text, smooth everywhere else.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from ..colours import RGB, hex_colour
from .geometry import Box
from .legibility import NEAR_BLACK, WHITE, Surface, pixel_luminance, worst_contrast
from .paint import Tint

__all__ = [
    "MARGIN",
    "Backdrop",
    "Candidate",
    "Frost",
    "Target",
    "build_backdrop",
    "margin_of",
]

Target = tuple[Box, float]
"""A box whose pixels must read at a contrast threshold."""

MARGIN = 1.04
"""Aim this much above each threshold: the surface is a reduced copy of the canvas, and fine
texture it averages away can cost a few percent on the real pixels."""
SCRIM_STEPS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
FROST_STEPS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
SCRIM_CORE = 0.35
"""Full-strength margin around each text box, in units of the block padding."""
SCRIM_SIGMA = 0.9
"""Falloff (Gaussian sigma) beyond the core, in units of the block padding."""
FROST_SIGMA = 0.03
"""Blur of a frosted panel, as a share of the canvas's short side."""
FROST_RADIUS = 0.025
"""Corner radius of a frosted panel, as a share of the canvas's short side."""


@dataclass(frozen=True)
class Frost:
    """A frosted panel: ``image`` (the blurred, tinted picture) through ``mask`` at (x, y)."""

    x: int
    y: int
    image: Image.Image
    mask: Image.Image

    def draw(self, canvas: Image.Image, dy: int = 0) -> None:
        """Ink onto ``canvas``, which holds the flyer's rows from ``dy`` down (a strip)."""
        top = self.y - dy
        if top < canvas.height and top + self.image.height > 0:
            canvas.paste(self.image, (self.x, top), self.mask)


@dataclass(frozen=True)
class Backdrop:
    """A decided backdrop: what it is (for the manifest) and the operation that draws it."""

    kind: str
    """'scrim' or 'frosted'."""
    dark: bool
    colour: RGB
    opacity: float
    box: Box
    """Canvas extent of the drawing."""
    op: Tint | Frost

    def describe(self, block: str) -> dict[str, object]:
        return {"block": block, "kind": self.kind, "tone": "dark" if self.dark else "light",
                "colour": hex_colour(self.colour),
                "opacity": round(self.opacity, 2), "box": list(self.box)}


def margin_of(colours: RGB | list[RGB], lum_of: dict[int, np.ndarray],
              targets: list[Target]) -> float:
    """The worst ratio of measured contrast to threshold over ``targets``, for text in
    ``colours`` (one colour, or one per target)."""
    each = colours if isinstance(colours, list) else [colours] * len(targets)
    return min(worst_contrast(each[i], lum_of[i]) / thr for i, (_, thr) in enumerate(targets))


class _Patch:
    """A rectangle of the surface grid and the canvas box it stands for."""

    def __init__(self, surface: Surface, box: Box, size: tuple[int, int]) -> None:
        self.ys, self.xs = surface.region(box)
        s = surface.scale
        self.canvas: Box = (round(self.xs.start / s), round(self.ys.start / s),
                            min(size[0], round(self.xs.stop / s)),
                            min(size[1], round(self.ys.stop / s)))
        self.scale = s

    @property
    def shape(self) -> tuple[int, int]:
        return (self.ys.stop - self.ys.start, self.xs.stop - self.xs.start)

    def grid(self, box: Box, grow: float = 0.0) -> tuple[float, float, float, float]:
        """A canvas box (grown by ``grow`` canvas px) in this patch's grid coordinates."""
        s = self.scale
        return ((box[0] - grow) * s - self.xs.start, (box[1] - grow) * s - self.ys.start,
                (box[2] + grow) * s - self.xs.start, (box[3] + grow) * s - self.ys.start)

    def rel(self, surface: Surface, box: Box) -> tuple[slice, slice]:
        ys, xs = surface.region(box)
        return (slice(max(0, ys.start - self.ys.start), max(0, ys.stop - self.ys.start)),
                slice(max(0, xs.start - self.xs.start), max(0, xs.stop - self.xs.start)))


def _union(boxes: list[Box]) -> Box:
    return (min(b[0] for b in boxes), min(b[1] for b in boxes),
            max(b[2] for b in boxes), max(b[3] for b in boxes))


def _grow(box: Box, by: int, size: tuple[int, int]) -> Box:
    return (max(0, box[0] - by), max(0, box[1] - by), min(size[0], box[2] + by),
            min(size[1], box[3] + by))


def _lum(rgb: np.ndarray) -> np.ndarray:
    return pixel_luminance(np.clip(rgb + 0.5, 0, 255).astype(np.uint8))


class Candidate:
    """One backdrop for one block, tried at several strengths before one is kept."""

    kind = ""
    steps: tuple[float, ...] = ()

    def __init__(self, surface: Surface, targets: list[Target], colour: RGB, dark: bool,
                 patch: _Patch) -> None:
        self.surface, self.targets, self.colour, self.dark = surface, targets, colour, dark
        self.patch = patch
        self.slices = [patch.rel(surface, box) for box, _ in targets]
        ends = np.cumsum([(ys.stop - ys.start) * (xs.stop - xs.start)
                          for ys, xs in self.slices]).tolist()
        self.bounds = list(zip([0, *ends[:-1]], ends, strict=True))
        """Where each target's pixels sit in ``gather``'s output."""
        self.inks: list[RGB] = [WHITE if dark else NEAR_BLACK] * len(targets)
        """The text colour each target is measured with (white or near-black; a brand
        accent for some, see ``with_inks``)."""
        self.found: dict[str, tuple[float, float]] = {}

    def with_inks(self, inks: list[RGB]) -> Candidate:
        """This candidate (its arrays shared) measured with other text colours, one per
        target."""
        other = copy.copy(self)
        other.inks = list(inks)
        other.found = {}
        return other

    def gather(self, grid: np.ndarray) -> np.ndarray:
        """The pixels of a patch-sized array under every target, one after the other."""
        return np.concatenate([grid[ys, xs].reshape(-1, *grid.shape[2:])
                               for ys, xs in self.slices])

    def under(self, opacity: float) -> np.ndarray:
        """The colours under all targets (``gather`` order) with the backdrop at
        ``opacity``."""
        raise NotImplementedError

    def blended(self, opacity: float) -> np.ndarray:
        """The whole patch with the backdrop at ``opacity``."""
        raise NotImplementedError

    def margin(self, opacity: float) -> float:
        """Only the pixels under the targets are blended and measured."""
        lum = _lum(self.under(opacity))
        return margin_of(self.inks, {i: lum[a:b] for i, (a, b) in enumerate(self.bounds)},
                         self.targets)

    def weakest(self) -> tuple[float, float]:
        """The lightest step that reaches MARGIN (bisection: stronger never reads worse),
        or the strongest step; with its margin (remembered)."""
        if "weakest" in self.found:
            return self.found["weakest"]
        lo, hi = 0, len(self.steps) - 1
        reached: dict[int, float] = {}
        while lo < hi:
            mid = (lo + hi) // 2
            reached[mid] = self.margin(self.steps[mid])
            if reached[mid] >= MARGIN:
                hi = mid
            else:
                lo = mid + 1
        if lo not in reached:
            reached[lo] = self.margin(self.steps[lo])
        self.found["weakest"] = (self.steps[lo], reached[lo])
        return self.found["weakest"]

    def commit(self, opacity: float, size: tuple[int, int]) -> Backdrop:
        """Mirror the backdrop onto the surface and return its canvas operation."""
        raise NotImplementedError


def _silhouette(boxes: list[tuple[float, float, float, float]], shape: tuple[int, int],
                window: int) -> np.ndarray:
    """The union of ``boxes`` (grid coordinates) with its ragged sides smoothed: each row's
    left and right ends follow a running extreme then a running mean over ``window`` rows,
    so lines of different lengths give a smooth slope instead of steps (never less than the
    boxes themselves)."""
    w = shape[1]
    union = np.zeros(shape, dtype=bool)
    for left, top, right, bottom in boxes:
        union[max(0, int(top)):max(0, int(np.ceil(bottom))),
              max(0, int(left)):max(0, int(np.ceil(right)))] = True
    rows = np.flatnonzero(union.any(axis=1))
    if rows.size == 0:
        return union
    out = union.copy()
    # each run of consecutive rows is one silhouette (blocks far apart stay apart)
    breaks = np.flatnonzero(np.diff(rows) > 1)
    for run in np.split(rows, breaks + 1):
        part = union[run]
        lefts = part.argmax(axis=1).astype(np.float64)
        rights = (w - part[:, ::-1].argmax(axis=1)).astype(np.float64)
        k = min(window, len(run))
        pad_l = np.pad(lefts, k, mode="edge")
        pad_r = np.pad(rights, k, mode="edge")
        span = np.lib.stride_tricks.sliding_window_view
        low = span(pad_l, 2 * k + 1).min(axis=1)
        high = span(pad_r, 2 * k + 1).max(axis=1)
        kernel = np.ones(k + 1) / (k + 1)
        low = np.minimum(lefts, np.convolve(np.pad(low, k // 2 + 1, mode="edge"), kernel,
                                            mode="same")[k // 2 + 1:-(k // 2 + 1)])
        high = np.maximum(rights, np.convolve(np.pad(high, k // 2 + 1, mode="edge"), kernel,
                                              mode="same")[k // 2 + 1:-(k // 2 + 1)])
        cols = np.arange(w)
        out[run] |= (cols >= np.floor(low)[:, None]) & (cols < np.ceil(high)[:, None])
    return out


class _Scrim(Candidate):
    kind = "scrim"
    steps = SCRIM_STEPS

    def __init__(self, surface: Surface, targets: list[Target], colour: RGB, dark: bool,
                 pad: int, size: tuple[int, int]) -> None:
        core = max(1, round(SCRIM_CORE * pad))
        sigma = max(1.0, SCRIM_SIGMA * pad)
        reach = core + round(4 * sigma)
        patch = _Patch(surface, _grow(_union([b for b, _ in targets]), reach, size), size)
        super().__init__(surface, targets, colour, dark, patch)
        h, w = patch.shape
        hard = Image.new("L", (w, h), 0)
        for box, _ in targets:
            ImageDraw.Draw(hard).rectangle(patch.grid(box, core), fill=255)
        shape = _silhouette([patch.grid(box, core + 2 * sigma) for box, _ in targets],
                            (h, w), max(1, round(3 * sigma * patch.scale)))
        soft = Image.fromarray(shape.astype(np.uint8) * 255, "L").filter(
            ImageFilter.GaussianBlur(sigma * patch.scale))
        self.mask = np.maximum(np.asarray(soft, dtype=np.float32),
                               np.asarray(hard, dtype=np.float32)) / 255.0
        self.base = surface.rgb[patch.ys, patch.xs].copy()
        self.paint = np.array(colour, dtype=np.float32)
        self.flat = (self.gather(self.base), self.gather(self.mask))

    def under(self, opacity: float) -> np.ndarray:
        base, mask = self.flat
        m = (mask * np.float32(opacity))[:, None]
        out: np.ndarray = base * (1 - m) + self.paint * m
        return out

    def blended(self, opacity: float) -> np.ndarray:
        m = (self.mask * np.float32(opacity))[..., None]
        out: np.ndarray = self.base * (1 - m) + self.paint * m
        return out

    def commit(self, opacity: float, size: tuple[int, int]) -> Backdrop:
        p = self.patch
        self.surface.write(p.ys, p.xs, self.blended(opacity))
        left, top, right, bottom = p.canvas
        small = Image.fromarray(np.round(self.mask * 255 * opacity).astype(np.uint8), "L")
        mask = small.resize((right - left, bottom - top), Image.Resampling.BILINEAR)
        return Backdrop("scrim", self.dark, self.colour, opacity, p.canvas,
                        Tint(left, top, mask, self.colour))


class _Frosted(Candidate):
    kind = "frosted"
    steps = FROST_STEPS

    def __init__(self, surface: Surface, targets: list[Target], colour: RGB, dark: bool,
                 pad: int, short: int, size: tuple[int, int]) -> None:
        self.card = _grow(_union([b for b, _ in targets]), pad, size)
        patch = _Patch(surface, self.card, size)
        super().__init__(surface, targets, colour, dark, patch)
        sigma = FROST_SIGMA * short * patch.scale
        room = int(np.ceil(3 * sigma))
        hgt, wid = surface.rgb.shape[:2]
        outer = (max(0, patch.ys.start - room), min(hgt, patch.ys.stop + room),
                 max(0, patch.xs.start - room), min(wid, patch.xs.stop + room))
        source = np.clip(surface.rgb[outer[0]:outer[1], outer[2]:outer[3]] + 0.5, 0, 255)
        blurred = Image.fromarray(source.astype(np.uint8), "RGB").filter(
            ImageFilter.GaussianBlur(sigma))
        ys = slice(patch.ys.start - outer[0], patch.ys.stop - outer[0])
        xs = slice(patch.xs.start - outer[2], patch.xs.stop - outer[2])
        self.frost = np.asarray(blurred, dtype=np.float32)[ys, xs]
        self.radius = max(1, round(FROST_RADIUS * short))
        h, w = patch.shape
        grid_mask = Image.new("L", (w, h), 0)
        ImageDraw.Draw(grid_mask).rounded_rectangle(
            patch.grid(self.card), radius=self.radius * patch.scale, fill=255)
        self.mask = np.asarray(grid_mask, dtype=np.float32)[..., None] / 255.0
        self.base = surface.rgb[patch.ys, patch.xs].copy()
        self.paint = np.array(colour, dtype=np.float32)
        self.flat = (self.gather(self.base), self.gather(self.frost), self.gather(self.mask))

    def tinted(self, opacity: float) -> np.ndarray:
        out: np.ndarray = self.frost * np.float32(1 - opacity) + self.paint * np.float32(opacity)
        return out

    def under(self, opacity: float) -> np.ndarray:
        base, frost, mask = self.flat
        tint = frost * np.float32(1 - opacity) + self.paint * np.float32(opacity)
        out: np.ndarray = base * (1 - mask) + tint * mask
        return out

    def blended(self, opacity: float) -> np.ndarray:
        out: np.ndarray = self.base * (1 - self.mask) + self.tinted(opacity) * self.mask
        return out

    def commit(self, opacity: float, size: tuple[int, int]) -> Backdrop:
        p = self.patch
        self.surface.write(p.ys, p.xs, self.blended(opacity))
        left, top, right, bottom = p.canvas
        small = Image.fromarray(np.clip(self.tinted(opacity) + 0.5, 0, 255).astype(np.uint8),
                                "RGB")
        # the picture is blurred: bilinear enlarging is as good as bicubic here, and cheaper
        image = small.resize((right - left, bottom - top), Image.Resampling.BILINEAR)
        # the card's edge: on screen-sized canvases drawn twice as large and halved (smooth
        # corners); at print resolution a pixel step is invisible
        k = 2 if min(size) <= 1600 else 1
        mask = Image.new("L", ((right - left) * k, (bottom - top) * k), 0)
        c = self.card
        ImageDraw.Draw(mask).rounded_rectangle(
            ((c[0] - left) * k, (c[1] - top) * k, (c[2] - left) * k - 1, (c[3] - top) * k - 1),
            radius=self.radius * k, fill=255)
        return Backdrop("frosted", self.dark, self.colour, opacity, c,
                        Frost(left, top, image, mask.reduce(k) if k > 1 else mask))


def build_backdrop(kind: str, surface: Surface, targets: list[Target], colour: RGB,
                   dark: bool, pad: int, short: int, size: tuple[int, int]) -> Candidate:
    """A backdrop candidate of ``kind`` ('scrim' or 'frosted') behind ``targets``; call
    ``weakest()`` to find its lightest legible strength and ``commit()`` to keep it."""
    if kind == "scrim":
        return _Scrim(surface, targets, colour, dark, pad, size)
    return _Frosted(surface, targets, colour, dark, pad, short, size)
