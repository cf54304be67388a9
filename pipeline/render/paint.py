"""Drawing helpers for compose: panels, logo placement, the metro roundel."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageChops, ImageDraw

from ..colours import RGB
from .fonts import FontFace, load_font
from .geometry import Box
from .legibility import (
    LARGE_TEXT,
    NEAR_BLACK,
    PERCENTILE,
    WHITE,
    Surface,
    luminance,
    percentiles,
    pixel_luminance,
)
from .logos import KNOCKOUT_TOLERANCE, ink_luminance, is_opaque

__all__ = [
    "NEAR_BLACK",
    "WHITE",
    "LogoOp",
    "Tint",
    "apply_logo",
    "decide_logo",
    "overlay_tint",
    "plate_variant",
    "roundel_tint",
    "stands_out",
]

BLACK: RGB = (0, 0, 0)
LOGO_SHARE = 0.6
"""Share of a logo's ink that must stand out for the logo to go without a plate."""


@dataclass(frozen=True)
class Tint:
    """``colour`` inked through a coverage ``mask`` whose top-left is at (x, y): a panel, a
    scrim, a logo plate or a roundel, prepared before the canvas exists."""

    x: int
    y: int
    mask: Image.Image | None
    colour: RGB

    def draw(self, canvas: Image.Image, dy: int = 0) -> None:
        """Ink onto ``canvas``, which holds the flyer's rows from ``dy`` down (a strip)."""
        if self.mask is None:
            return
        w, h = self.mask.size
        top = self.y - dy
        if top < canvas.height and top + h > 0:
            canvas.paste(self.colour, (self.x, top, self.x + w, top + h), self.mask)


def overlay_tint(size: tuple[int, int], box: Box, colour: RGB, opacity: float,
                 radius: int) -> Tint:
    """A (rounded) rectangle of ``colour`` at ``opacity``, clipped to a canvas of ``size``."""
    left, top = max(0, box[0]), max(0, box[1])
    right, bottom = min(size[0], box[2]), min(size[1], box[3])
    if right <= left or bottom <= top:
        return Tint(left, top, None, colour)
    mask = Image.new("L", (right - left, bottom - top), 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, right - left - 1, bottom - top - 1),
                                           radius=radius, fill=round(255 * opacity))
    return Tint(left, top, mask, colour)


def _inset_size(w: int, h: int) -> tuple[int, int]:
    """The logo's size inside a plate filling a ``w`` × ``h`` box."""
    inset = max(1, round(0.12 * min(w, h)))
    scale = min((w - 2 * inset) / w, (h - 2 * inset) / h)
    return max(1, round(w * scale)), max(1, round(h * scale))


def plate_variant(logo: Image.Image, box: Box) -> Image.Image:
    """The logo resized for a plate in ``box`` (prepared ahead when resizing is parallel)."""
    size = _inset_size(box[2] - box[0], box[3] - box[1])
    return logo.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


@dataclass(frozen=True)
class LogoOp:
    """A decided logo placement: ``apply_logo`` pastes ``image`` at (x, y), after its
    plate if it has one."""

    box: Box
    image: Image.Image | None
    x: int
    y: int
    treatment: str
    ratio: float
    plate: Tint | None = None


def decide_logo(logo: Image.Image, box: Box, surface: Surface, size: tuple[int, int],
                resized: Image.Image | None = None,
                plate_source: Image.Image | None = None,
                threshold: float = LARGE_TEXT) -> LogoOp:
    """How an RGBA logo goes into ``box`` (already aspect-fitted), the same way in every
    layout: a logo that still has its own opaque background (one that could not be knocked
    out) is shown as it is, corners rounded, that background being its plate; a cut-out
    logo goes straight on the picture when its ink stands out ``threshold`` from what is
    under it, else on a light or dark plate. Needs only the surface and the canvas's
    ``size`` (a logo with no visible ink is left out). ``resized``: the logo already scaled
    to the box; ``plate_source``: what to shrink for a plate (default ``logo``)."""
    w, h = box[2] - box[0], box[3] - box[1]
    if resized is None or resized.size != (w, h):
        resized = logo.resize((w, h), Image.Resampling.LANCZOS, reducing_gap=3.0)
    if is_opaque(resized):
        return LogoOp(box, _rounded(resized), box[0], box[1], "own_background",
                      _own_contrast(resized))
    ink = ink_luminance(resized)
    if ink.size == 0:
        return LogoOp(box, None, box[0], box[1], "none", 21.0)
    under = surface.luminance(box)
    low, high = percentiles(under, (PERCENTILE, 100 - PERCENTILE))
    ratio = stands_out(ink, low, high)
    if ratio >= threshold:
        return LogoOp(box, resized, box[0], box[1], "none", ratio)

    def against(colour: RGB) -> float:
        return stands_out(ink, luminance(colour), luminance(colour))

    colour = max((WHITE, NEAR_BLACK, BLACK), key=lambda c: (against(c), c == NEAR_BLACK))
    ratio = against(colour)
    plate = overlay_tint(size, box, colour, 1.0, round(0.14 * min(w, h)))
    small = plate_variant(plate_source if plate_source is not None else logo, box)
    iw, ih = small.size
    return LogoOp(box, small, box[0] + (w - iw) // 2, box[1] + (h - ih) // 2, "plate", ratio,
                  plate)


def stands_out(ink: np.ndarray, low: float, high: float) -> float:
    """How well a logo reads on a ground whose luminance spans ``low``..``high`` (its
    10th..90th percentiles): the contrast that most of the ink (LOGO_SHARE of its pixels)
    reaches against the worse end. A red-and-blue mark on black fails on its blue half; a
    yellow disc with a thin black outline on black passes on its disc."""
    def ratio(ground: float) -> np.ndarray:
        out: np.ndarray = ((np.maximum(ink, ground) + 0.05)
                           / (np.minimum(ink, ground) + 0.05))
        return out

    worst = np.minimum(ratio(low), ratio(high))
    return percentiles(worst, (100 * (1 - LOGO_SHARE),))[0]


def _rounded(logo: Image.Image) -> Image.Image:
    """An opaque logo with softly rounded corners (drawn twice as large, then halved)."""
    w, h = logo.size
    radius = max(1, round(0.1 * min(w, h)))
    mask = Image.new("L", (w * 2, h * 2), 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, w * 2 - 1, h * 2 - 1), radius=radius * 2,
                                           fill=255)
    out = logo.copy()
    out.putalpha(ImageChops.multiply(logo.getchannel("A"), mask.reduce(2)))
    return out


def _own_contrast(logo: Image.Image) -> float:
    """How well an opaque logo's marks stand out from its own background (the median of
    its border): median luminance of the pixels that differ from it, against it."""
    arr = np.asarray(logo.convert("RGB"))
    border = np.concatenate([arr[0], arr[-1], arr[:, 0], arr[:, -1]])
    ground = np.median(border, axis=0)
    marks = arr[np.abs(arr.astype(np.int16) - ground).max(axis=2) > KNOCKOUT_TOLERANCE]
    if marks.size == 0:
        return 1.0
    ink = float(np.median(pixel_luminance(marks)))
    back = float(pixel_luminance(ground.astype(np.uint8)[None])[0])
    return (max(ink, back) + 0.05) / (min(ink, back) + 0.05)


def apply_logo(canvas: Image.Image, op: LogoOp, dy: int = 0) -> None:
    """Draw a decided logo placement (its plate first) onto ``canvas``, which holds the
    flyer's rows from ``dy`` down."""
    if op.image is None:
        return
    if op.plate is not None:
        op.plate.draw(canvas, dy)
    y = op.y - dy
    if y < canvas.height and y + op.image.height > 0:
        canvas.paste(op.image.convert("RGB"), (op.x, y), op.image.getchannel("A"))


def roundel_tint(box: Box, colour: RGB, font: FontFace) -> Tint:
    """A filled circle in ``colour`` with a bold "M" knocked out of it (the background shows
    through, so the letter reads exactly as well as the text beside it), inside ``box``."""
    w, h = box[2] - box[0], box[3] - box[1]
    side = min(w, h)
    if side < 4:
        return Tint(box[0], box[1], None, colour)
    scale = 4  # supersampled, then reduced: a smooth edge at any size
    big = Image.new("L", (side * scale, side * scale), 0)
    draw = ImageDraw.Draw(big)
    draw.ellipse((0, 0, side * scale - 1, side * scale - 1), fill=255)
    letter = load_font(font.path, max(1, round(side * scale * 0.62)))
    draw.text((side * scale / 2, side * scale / 2), "M", font=letter, fill=0, anchor="mm")
    return Tint(box[0] + (w - side) // 2, box[1] + (h - side) // 2, big.reduce(scale), colour)
