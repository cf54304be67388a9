"""Decoding images that servers send back (base64 text or raw bytes) into RGB Pillow images;
anything unreadable is a BackendResponseError naming which image from which server."""

from __future__ import annotations

import base64
import binascii
import io

from PIL import Image

from ..errors import BackendResponseError

__all__ = ["decode_base64_image", "decode_image_bytes", "png_bytes"]


def decode_image_bytes(raw: bytes, what: str) -> Image.Image:
    """``raw`` (PNG, JPEG, WebP...) as an RGB image; ``what`` names it in the error."""
    try:
        with Image.open(io.BytesIO(raw)) as opened:
            opened.load()
            return opened.convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError, SyntaxError):
        raise BackendResponseError(f"The {what} could not be decoded as an image.") from None


def decode_base64_image(encoded: object, what: str) -> Image.Image:
    """One base64 image (optionally a ``data:`` URL) as RGB."""
    if not isinstance(encoded, str):
        raise BackendResponseError(f"The {what} is not base64 text.")
    if encoded.startswith("data:"):
        encoded = encoded.partition(",")[2]
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise BackendResponseError(f"The {what} is not valid base64.") from None
    return decode_image_bytes(raw, what)


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()
