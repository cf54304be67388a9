"""QR codes for the event link: dark modules on a light plate that includes the quiet zone,
sized so a phone can read them.

``plan_qr`` picks the error-correction level and the code's side: medium error correction
(M, 15% of the code may be damaged) when it fits the layout's QR box with modules at least
``MIN_MODULE_PX`` wide (4 on 1080-px canvases, 18 mm for the whole code in print), else low
(L, the fewest modules); segno then raises the level as far as the chosen version allows. On
small canvases where even L does not fit the box, the code grows out of its corner, inwards,
up to ``MAX_SHARE`` of the safe area's short side, and the text blocks and the logo give way
(``give_way``); only beyond that is the link refused, with the sizes in the message.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import segno
from PIL import Image

from ..errors import InvalidRequest, RenderError
from ..models import check_link
from .formats import MM_PER_INCH, Format
from .geometry import Box

__all__ = [
    "MAX_SHARE",
    "MIN_MODULE_PX",
    "QUIET_ZONE",
    "QrPlan",
    "give_way",
    "make_qr",
    "plan_qr",
    "qr_modules",
]

QUIET_ZONE = 4
"""Modules of light border on every side, as ISO/IEC 18004 asks."""
DARK = (0, 0, 0)
LIGHT = (255, 255, 255)
MIN_MODULE_PX = 3
"""Fewest pixels per module on screen formats: below that phones misread a code."""
PRINT_MIN_MM = 18.0
"""Smallest printed side of the whole code."""
SHARE = 0.2
"""The code's usual side as a share of the canvas's short side (when its box allows)."""
MAX_SHARE = 0.55
"""Most of the safe area's short side a code may grow to on a small canvas."""
LEVELS = ("m", "l")
"""Error-correction levels tried, the sturdier first."""


def qr_modules(url: str, error: str = "l") -> int:
    """Modules per side of the code for ``url`` including the quiet zone."""
    return int(_encode(url, error).symbol_size(border=QUIET_ZONE)[0])


@lru_cache(maxsize=64)
def _encode(url: str, error: str = "l") -> segno.QRCode:
    """Encoding (segno tries all 8 masks in Python, ~40 ms) is cached per link and level. Only
    http(s), mailto: and tel: links are encoded, whoever calls."""
    check_link(url)
    try:
        return segno.make_qr(url, error=error, boost_error=True)
    except (segno.DataOverflowError, ValueError) as exc:
        raise InvalidRequest(f"The link cannot be encoded as a QR code: {exc}", field="url") \
            from exc


@lru_cache(maxsize=64)
def _matrix(url: str, error: str = "l") -> np.ndarray:
    """The module matrix with its quiet zone (read-only, cached per link and level)."""
    qr = _encode(url, error)
    matrix = np.array(list(qr.matrix_iter(scale=1, border=QUIET_ZONE)), dtype=bool)
    matrix.setflags(write=False)
    return matrix


@lru_cache(maxsize=64)
def make_qr(url: str, size_px: int, error: str = "l") -> Image.Image:
    """An RGB QR code at most ``size_px`` square, modules a whole number of pixels wide
    (nearest-neighbour, crisp), dark on white with a 4-module quiet zone. Cached per link,
    size and level (a batch's flyers and re-renders share it): the image is shared, so
    callers paste it and never draw on it."""
    matrix = _matrix(url, error)
    modules = matrix.shape[0]
    scale = size_px // modules
    if scale < 1:
        raise InvalidRequest(
            f"A QR code for this link needs at least {modules} px; got {size_px} px.",
            field="url",
        )
    pixels = np.where(matrix, 0, 255).astype(np.uint8)
    img = Image.fromarray(pixels).resize((modules * scale,) * 2, Image.Resampling.NEAREST)
    return img.convert("RGB")


@dataclass(frozen=True)
class QrPlan:
    """A sized QR code and where it goes."""

    image: Image.Image
    box: Box
    level: str
    """The error-correction level encoded (L, M, Q or H)."""
    module_px: int
    grown: bool
    """Whether it outgrew the layout's QR box (the text then gives way)."""


def _min_module(modules: int, fmt: Format) -> int:
    if fmt.print:
        return max(4, math.ceil(PRINT_MIN_MM / MM_PER_INCH * fmt.dpi / modules))
    return max(MIN_MODULE_PX, round(min(fmt.width, fmt.height) / 270))


def _anchor(region: Box, side: int, align: str, valign: str, safe: Box) -> Box:
    """A ``side``-px square in ``region``'s corner/edge per the alignment, reaching out of
    the region inwards when it is bigger, kept inside ``safe``."""
    left, top, right, bottom = region
    x = {"left": left, "center": (left + right - side) // 2, "right": right - side}[align]
    y = {"top": top, "center": (top + bottom - side) // 2, "bottom": bottom - side}[valign]
    x = max(safe[0], min(x, safe[2] - side))
    y = max(safe[1], min(y, safe[3] - side))
    return (x, y, x + side, y + side)


def plan_qr(url: str, region: Box, align: str, valign: str, fmt: Format) -> QrPlan:
    """The code for ``url`` sized for ``region`` (see the module's docstring)."""
    short = min(fmt.width, fmt.height)
    room = min(region[2] - region[0], region[3] - region[1])
    for level in LEVELS:
        modules = qr_modules(url, level)
        least = _min_module(modules, fmt)
        if modules * least <= room:
            scale = min(room, max(round(SHARE * short), modules * least)) // modules
            return _plan(url, level, modules * scale, region, align, valign, fmt, False)
    level = LEVELS[-1]
    modules = qr_modules(url, level)
    least = _min_module(modules, fmt)
    safe = fmt.safe_box
    limit = math.floor(MAX_SHARE * min(safe[2] - safe[0], safe[3] - safe[1]))
    if modules * least > limit:
        raise RenderError(
            f"The link is too long for a scannable QR code at {fmt.width}×{fmt.height} px: its "
            f"{modules} modules need {modules * least} px ({least} px each) and this format has "
            f"room for {limit} px. Use a shorter link (a link shortener) or a larger format.",
            field="url")
    return _plan(url, level, modules * least, region, align, valign, fmt, True)


def _plan(url: str, level: str, side: int, region: Box, align: str, valign: str,
          fmt: Format, grown: bool) -> QrPlan:
    image = make_qr(url, side, level)
    box = _anchor(region, image.width, align, valign, fmt.safe_box)
    modules = _matrix(url, level).shape[0]
    return QrPlan(image, box, _encode(url, level).error or level.upper(),
                  image.width // modules, grown)


def give_way(region: Box, keep_out: Box, gap: int) -> Box:
    """The largest part of ``region`` above, below, left or right of ``keep_out`` with ``gap``
    between them; ``region`` itself when they do not overlap (the layout's own spacing)."""
    left, top, right, bottom = region
    if keep_out[2] <= left or keep_out[0] >= right or keep_out[3] <= top \
            or keep_out[1] >= bottom:
        return region
    kl, kt, kr, kb = keep_out[0] - gap, keep_out[1] - gap, keep_out[2] + gap, keep_out[3] + gap
    parts = [(left, top, right, min(bottom, kt)), (left, max(top, kb), right, bottom),
             (left, top, min(right, kl), bottom), (max(left, kr), top, right, bottom)]
    return max(parts, key=lambda b: (max(0, b[2] - b[0]) * max(0, b[3] - b[1]), -parts.index(b)))
