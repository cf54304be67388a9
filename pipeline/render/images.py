"""Safe loading of user-supplied images (organiser logo, own background, metro logo).

Everything happens in memory: the file is read once (bounded), its header is checked against a
pixel budget *before* anything is decoded, the whole image is then decoded to catch truncated or
corrupt files, EXIF orientation is applied and the colour mode is normalised to RGB (or RGBA when
the image has transparency). Global PIL state (``Image.MAX_IMAGE_PIXELS``, the warnings filters)
is never touched. Every failure is an :class:`~pipeline.errors.InvalidRequest` naming the field.
"""

from __future__ import annotations

import io
import os
import struct
import zlib

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import InvalidRequest

__all__ = ["FIELD_LABELS", "load_image"]

FIELD_LABELS: dict[str, str] = {
    "logo": "Organiser logo",
    "background": "Background image",
    "METRO_PATH": "Metro logo (METRO_PATH)",
}

_DECODE_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    KeyError,
    struct.error,
    zlib.error,
)
_ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}
_HIGH_DEPTH = {"I", "I;16", "I;16L", "I;16B", "I;16N", "F"}


def _label(field: str) -> str:
    return FIELD_LABELS.get(field, field)


def _read(data: bytes | str | os.PathLike[str], field: str, max_bytes: int) -> bytes:
    label = _label(field)
    if isinstance(data, (bytes, bytearray, memoryview)):
        raw = bytes(data)
    else:
        path = os.fspath(data)
        try:
            size = os.stat(path).st_size
            if size > max_bytes:
                raise InvalidRequest(_too_big(label, size, max_bytes), field=field)
            with open(path, "rb") as fh:
                raw = fh.read(max_bytes + 1)
        except FileNotFoundError as exc:
            raise InvalidRequest(f"{label}: file {path!r} does not exist.", field=field) from exc
        except IsADirectoryError as exc:
            raise InvalidRequest(
                f"{label}: {path!r} is a folder, not an image file.", field=field
            ) from exc
        except OSError as exc:
            raise InvalidRequest(
                f"{label}: cannot read {path!r} ({exc.strerror or exc}).", field=field
            ) from exc
    if not raw:
        raise InvalidRequest(f"{label}: the file is empty; choose an image file.", field=field)
    if len(raw) > max_bytes:
        raise InvalidRequest(_too_big(label, len(raw), max_bytes), field=field)
    return raw


def _too_big(label: str, size: int, max_bytes: int) -> str:
    return (
        f"{label}: the file is {size / 1048576:.1f} MB; the limit is "
        f"{max_bytes / 1048576:.0f} MB. Use a smaller or more compressed image."
    )


def _to_8bit(image: Image.Image) -> Image.Image:
    """16-bit / 32-bit greyscale to 8-bit L, scaling instead of clipping."""
    arr = np.asarray(image)
    if arr.dtype.kind == "f":
        arr = np.nan_to_num(arr.astype(np.float64))
        top = float(arr.max()) if arr.size else 0.0
        if top <= 1.0:
            arr = arr * 255.0
        elif top > 255.0:
            arr = arr / 257.0
    else:
        arr = arr.astype(np.int64)
        if image.mode != "I" or (arr.size and int(arr.max()) > 255):
            arr = arr // 257
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "L")


def _normalise(image: Image.Image) -> Image.Image:
    """RGBA when the image carries transparency, RGB otherwise."""
    mode = image.mode
    if mode == "RGBA":
        return image
    if mode in _ALPHA_MODES:
        return image.convert("RGBA")
    if "transparency" in image.info and mode in {"P", "L", "RGB", "1"}:
        return image.convert("RGBA")
    if mode in _HIGH_DEPTH:
        return _to_8bit(image).convert("RGB")
    if mode == "RGB":
        return image
    return image.convert("RGB")


def load_image(
    data: bytes | str | os.PathLike[str],
    *,
    field: str,
    max_pixels: int = 40_000_000,
    max_bytes: int = 25 * 1024 * 1024,
) -> Image.Image:
    """Open an uploaded image (bytes or a path) safely and return it as RGB or RGBA.

    Animated images give their first frame. Raises InvalidRequest(field=field) for an empty,
    unreadable, corrupt, truncated, too large (bytes) or too many pixels (header) file.
    """
    label = _label(field)
    raw = _read(data, field, max_bytes)
    # Pillow itself warns above MAX_IMAGE_PIXELS: stay at or below it so a warning-sized
    # image is always refused by our own check, without changing the global.
    limit = max_pixels
    if Image.MAX_IMAGE_PIXELS is not None:
        limit = min(limit, int(Image.MAX_IMAGE_PIXELS))
    try:
        with Image.open(io.BytesIO(raw)) as probe:
            width, height = probe.size
            if width <= 0 or height <= 0:
                raise InvalidRequest(f"{label}: the image has no pixels.", field=field)
            if width * height > limit:
                raise InvalidRequest(_bomb(label, width, height, limit), field=field)
            probe.verify()
        with Image.open(io.BytesIO(raw)) as opened:
            opened.seek(0)
            opened.load()
            image = ImageOps.exif_transpose(opened)
            result = _normalise(image)
            if result is opened:
                result = opened.copy()
    except InvalidRequest:
        raise
    except UnidentifiedImageError as exc:
        raise InvalidRequest(
            f"{label}: this file is not an image the studio can read; use PNG, JPEG or WebP.",
            field=field,
        ) from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InvalidRequest(
            f"{label}: the image claims too many pixels (decompression bomb?); "
            f"use one under {limit / 1e6:.0f} megapixels.",
            field=field,
        ) from exc
    except _DECODE_ERRORS as exc:
        raise InvalidRequest(
            f"{label}: the image file is corrupt or truncated ({exc}); "
            "export it again and re-upload.",
            field=field,
        ) from exc
    result.info.pop("exif", None)
    return result


def _bomb(label: str, width: int, height: int, limit: int) -> str:
    return (
        f"{label}: the image is {width}×{height} = {width * height / 1e6:.0f} megapixels; "
        f"the limit is {limit / 1e6:.0f} megapixels. Scale it down and try again."
    )
