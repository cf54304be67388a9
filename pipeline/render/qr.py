"""QR codes for the event link: dark modules on a light plate that includes the quiet zone."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import segno
from PIL import Image

from ..errors import InvalidRequest
from ..models import check_link

__all__ = ["QUIET_ZONE", "make_qr", "qr_modules"]

QUIET_ZONE = 4
"""Modules of light border on every side, as ISO/IEC 18004 asks."""
DARK = (0, 0, 0)
LIGHT = (255, 255, 255)


def qr_modules(url: str) -> int:
    """Modules per side of the code for ``url`` including the quiet zone."""
    return int(_encode(url).symbol_size(border=QUIET_ZONE)[0])


@lru_cache(maxsize=64)
def _encode(url: str) -> segno.QRCode:
    """Encoding (segno tries all 8 masks in Python, ~40 ms) is cached per link. Only
    http(s), mailto: and tel: links are encoded, whoever calls."""
    check_link(url)
    try:
        return segno.make_qr(url, error="l", boost_error=True)
    except (segno.DataOverflowError, ValueError) as exc:
        raise InvalidRequest(f"The link cannot be encoded as a QR code: {exc}", field="url") \
            from exc


@lru_cache(maxsize=64)
def _matrix(url: str) -> np.ndarray:
    """The module matrix with its quiet zone (read-only, cached per link)."""
    qr = _encode(url)
    matrix = np.array(list(qr.matrix_iter(scale=1, border=QUIET_ZONE)), dtype=bool)
    matrix.setflags(write=False)
    return matrix


def make_qr(url: str, size_px: int) -> Image.Image:
    """An RGB QR code at most ``size_px`` square, modules a whole number of pixels wide
    (nearest-neighbour, crisp), dark on white with a 4-module quiet zone."""
    matrix = _matrix(url)
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
