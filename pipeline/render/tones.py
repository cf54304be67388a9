"""Colours for panels and backdrops, taken from the picture or the brand, never muddied.

The picture's dominant hue (saturated, bright pixels weigh most) gives a deep shade for dark
panels and scrims and a pale tint for light ones; a minimum saturation keeps that shade a
colour rather than grey mud, unless the picture itself is grey. Brand colours are used as they
are or not at all: darkening a gold gives olive, so a brand colour is a solid panel (with
white or near-black text, whichever reads) or a title colour, never a darkened veil.
"""

from __future__ import annotations

import colorsys
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image

from ..colours import RGB, parse_hex
from .legibility import NEAR_BLACK, WHITE, Surface, contrast

__all__ = [
    "NEUTRAL_SATURATION",
    "SATURATION_MIN",
    "Hue",
    "backdrop_colour",
    "deep_shade",
    "lazy_hue",
    "pale_tint",
    "panel_colour",
    "picture_hue",
]

SATURATION_MIN = 0.38
"""Least saturation of a shade taken from a colourful picture."""
NEUTRAL_SATURATION = 0.12
"""Below this mean saturation a picture counts as grey: its shades stay neutral."""
DEEP_CONTRAST = 10.0
"""White text on a deep shade reads at least this well."""
PALE_CONTRAST = 12.0
"""Near-black text on a pale tint reads at least this well."""
_BINS = 36
HUE_STEP = 3
"""The hue is read from every third pixel of the surface, each way."""


@dataclass(frozen=True)
class Hue:
    """The picture's dominant colour: hue and saturation in 0..1; ``neutral`` for grey."""

    hue: float
    saturation: float
    neutral: bool


def picture_hue(surface: Surface) -> Hue:
    """The dominant hue of the measuring surface (weights: saturation × value), read from
    every ``HUE_STEP``-th pixel: a hue needs no detail."""
    return _hue_of(surface.rgb[::HUE_STEP, ::HUE_STEP])


def lazy_hue(surface: Surface) -> Callable[[], Hue]:
    """``picture_hue`` of the surface as it is now, computed on the first call only (most
    flyers need no colour from the picture); the pixels it reads are copied now, before
    panels and backdrops are mirrored onto the surface."""
    grid = surface.rgb[::HUE_STEP, ::HUE_STEP].copy()
    found: list[Hue] = []

    def hue() -> Hue:
        if not found:
            found.append(_hue_of(grid))
        return found[0]

    return hue


def _hue_of(rgb: np.ndarray) -> Hue:
    small = Image.fromarray(np.clip(np.ascontiguousarray(rgb), 0, 255).astype(np.uint8), "RGB")
    hsv = np.asarray(small.convert("HSV"), dtype=np.float32) / 255.0
    h, s, v = hsv[..., 0].ravel(), hsv[..., 1].ravel(), hsv[..., 2].ravel()
    weight = s * v
    mean_sat = float(weight.sum() / max(float(v.sum()), 1e-6))
    if mean_sat < NEUTRAL_SATURATION or float(weight.sum()) <= 0:
        return Hue(0.0, 0.0, True)
    bins = np.minimum((h * _BINS).astype(np.int64), _BINS - 1)
    hist = np.bincount(bins, weights=weight, minlength=_BINS)
    smooth = hist + 0.5 * (np.roll(hist, 1) + np.roll(hist, -1))
    peak = int(np.argmax(smooth))
    near = np.abs(((bins - peak + _BINS // 2) % _BINS) - _BINS // 2) <= 1
    w = weight[near]
    angle = h[near] * 2 * np.pi
    hue = float(np.arctan2((w * np.sin(angle)).sum(), (w * np.cos(angle)).sum()) / (2 * np.pi))
    sat = float((w * s[near]).sum() / max(float(w.sum()), 1e-6))
    return Hue(hue % 1.0, sat, False)


def _hsv(hue: float, sat: float, val: float) -> RGB:
    r, g, b = colorsys.hsv_to_rgb(hue, sat, val)
    return (round(r * 255), round(g * 255), round(b * 255))


def deep_shade(tone: Hue, target: float = DEEP_CONTRAST) -> RGB:
    """A deep shade of the picture's hue that white text reads on at ``target`` or better."""
    sat = 0.0 if tone.neutral else min(0.8, max(SATURATION_MIN, tone.saturation))
    val = 0.42
    colour = _hsv(tone.hue, sat, val)
    while contrast(WHITE, colour) < target and val > 0.02:
        val -= 0.02
        colour = _hsv(tone.hue, sat, val)
    return colour


def pale_tint(tone: Hue, target: float = PALE_CONTRAST) -> RGB:
    """A pale tint of the picture's hue that near-black text reads on at ``target``."""
    sat = 0.0 if tone.neutral else min(0.1, max(0.05, tone.saturation * 0.2))
    colour = _hsv(tone.hue, sat, 1.0)
    while contrast(NEAR_BLACK, colour) < target and sat > 0:
        sat = max(0.0, sat - 0.02)
        colour = _hsv(tone.hue, sat, 1.0)
    return colour


def panel_colour(tone: Hue | Callable[[], Hue], palette: tuple[str, ...]) -> RGB:
    """A panel's colour: the darkest brand colour exactly as given, else the picture's deep
    shade (text on it is then white or near-black, whichever reads)."""
    if palette:
        return min((parse_hex(c) for c in palette), key=sum)
    return deep_shade(tone if isinstance(tone, Hue) else tone())


def backdrop_colour(tone: Hue | Callable[[], Hue], dark: bool) -> RGB:
    """The colour of a scrim or frosted panel: the picture's deep shade (or pale tint). Never
    a brand colour: a veil is translucent, and a brand hue mixed into a picture of another
    hue turns to mud (teal over orange is brown); brand colours go on panels and titles,
    where they show as they are."""
    found = tone if isinstance(tone, Hue) else tone()
    return deep_shade(found) if dark else pale_tint(found)
