"""Logos of any mode (RGB, RGBA, P, L, LA, CMYK, ...) made RGBA and fitted into a box."""

from __future__ import annotations

import numpy as np
from PIL import Image

from .legibility import pixel_luminance

__all__ = ["fit_into", "ink_luminance", "shrink_to_boxes", "to_rgba"]


def to_rgba(img: Image.Image) -> Image.Image:
    """RGBA with transparency kept: palette transparency and LA alpha survive; CMYK goes
    through RGB."""
    if img.mode == "RGBA":
        return img
    if img.mode == "CMYK":
        return img.convert("RGB").convert("RGBA")
    if img.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        arr = np.asarray(img, dtype=np.float64)
        hi = float(arr.max()) or 1.0
        return Image.fromarray((arr / hi * 255).astype(np.uint8)).convert("RGBA")
    if img.mode == "P" and "transparency" in img.info:
        return img.convert("RGBA")
    return img.convert("RGBA")


def fit_into(img: Image.Image, box: tuple[int, int, int, int], align: str,
             valign: str) -> tuple[Image.Image, tuple[int, int, int, int]]:
    """Scale ``img`` (keeping its aspect) to fit ``box`` and position it by alignment."""
    bw, bh = box[2] - box[0], box[3] - box[1]
    scale = min(bw / img.width, bh / img.height)
    w, h = max(1, round(img.width * scale)), max(1, round(img.height * scale))
    w, h = min(w, bw), min(h, bh)
    resized = img.resize((w, h), Image.Resampling.LANCZOS, reducing_gap=3.0)
    x = {"left": box[0], "center": box[0] + (bw - w) // 2, "right": box[2] - w}[align]
    y = {"top": box[1], "center": box[1] + (bh - h) // 2, "bottom": box[3] - h}[valign]
    return resized, (x, y, x + w, y + h)


def shrink_to_boxes(img: Image.Image, boxes: list[tuple[int, int, int, int]]) -> Image.Image:
    """``img`` as RGBA, downsized (never enlarged) to the largest size it can take in any of
    ``boxes``: fitting it into any of them afterwards is a cheap, equally sharp downscale."""
    rgba = to_rgba(img)
    scale = max(
        (min((b[2] - b[0]) / rgba.width, (b[3] - b[1]) / rgba.height) for b in boxes),
        default=1.0,
    )
    if scale >= 1.0:
        return rgba
    size = (max(1, round(rgba.width * scale)), max(1, round(rgba.height * scale)))
    return rgba.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def ink_luminance(img: Image.Image) -> np.ndarray:
    """Relative luminance of the logo's visible (alpha > 50%) pixels."""
    arr = np.asarray(img)
    visible = arr[arr[..., 3] > 127]
    if visible.size == 0:
        return np.zeros(0, dtype=np.float32)
    return pixel_luminance(visible)
