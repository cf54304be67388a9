"""An image's pixels as bytes or as a numpy array, packed in one piece.

Pillow's ``Image.tobytes`` (which ``np.asarray(image)`` calls) packs the pixels in 64 KiB
pieces and joins them: ~10 ms for a 1080×1350 RGB canvas on the 2-core machine, where packing
them in one piece of the whole size takes ~1 ms. The composer turns whole canvases into arrays
(the PNG writer's filter) and bytes (a composing process sending its flyer back), so this does
what ``tobytes`` does in one call of Pillow's raw encoder. That encoder is reached through
``Image._getencoder``, a private name (pyproject.toml pins Pillow below 13;
tests/test_private_apis.py is its canary); should it change, the public ``tobytes`` is used.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

__all__ = ["pixels", "raw_bytes"]

_BANDS = {"L": 1, "RGB": 3, "RGBA": 4}
"""The modes packed in one piece (one byte per band); other modes take ``tobytes``."""


def raw_bytes(image: Image.Image) -> bytes:
    """``image.tobytes()``: the same bytes, in one piece for L, RGB and RGBA."""
    bands = _BANDS.get(image.mode)
    size = image.width * image.height * (bands or 0)
    if not size:
        return image.tobytes()
    image.load()
    try:
        encoder = Image._getencoder(image.mode, "raw", image.mode)
        encoder.setimage(image.im, (0, 0, *image.size))
        _, status, data = encoder.encode(size)
    except (AttributeError, TypeError, ValueError):  # Pillow changed: its public way
        return image.tobytes()
    if status != 1 or len(data) != size:  # not all in one piece: its public way
        return image.tobytes()
    return bytes(data)


def pixels(image: Image.Image) -> np.ndarray:
    """``np.asarray(image)`` for an L, RGB or RGBA image (read-only uint8, (h, w) or
    (h, w, bands)), packed in one piece; other modes as ``np.asarray`` gives them."""
    bands = _BANDS.get(image.mode)
    if bands is None or not image.width or not image.height:
        return np.asarray(image)
    flat = np.frombuffer(raw_bytes(image), dtype=np.uint8)
    shape = (image.height, image.width) if bands == 1 else (image.height, image.width, bands)
    return flat.reshape(shape)
