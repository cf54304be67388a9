"""Logos of any mode (RGB, RGBA, P, L, LA, CMYK, ...) made RGBA and fitted into a box; a flat
white or black background knocked out (flooded from the corners, with a tolerance for JPEG
noise) so the mark sits on the flyer instead of in a box."""

from __future__ import annotations

import numpy as np
from PIL import Image

from .legibility import pixel_luminance

__all__ = [
    "KNOCKOUT_TOLERANCE",
    "fit_into",
    "ink_luminance",
    "is_opaque",
    "knock_out",
    "shrink_to_boxes",
    "to_rgba",
]

KNOCKOUT_TOLERANCE = 40
"""Largest channel difference from pure white (or black) still counted as background."""
_FLAT_BORDER = 0.6
"""Share of the border pixels that must be background for it to count as flat."""


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


def is_opaque(img: Image.Image) -> bool:
    """True when (almost) no pixel of an RGBA image is see-through."""
    alpha = np.asarray(img.getchannel("A"))
    return bool((alpha < 128).mean() < 0.01)


def _runs(near: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Horizontal runs of True: row, start and end (exclusive) of each, in row order."""
    h, w = near.shape
    padded = np.zeros((h, w + 2), dtype=np.int8)
    padded[:, 1:-1] = near
    step = np.diff(padded, axis=1)
    rows, starts = np.nonzero(step == 1)
    _, ends = np.nonzero(step == -1)
    return rows, starts, ends


def _connected_to(near: np.ndarray, seeds: list[tuple[int, int]]) -> np.ndarray:
    """The pixels of ``near`` 4-connected to any of ``seeds`` (row, col): runs per row
    joined across rows with a union-find (fast in Python: a logo has few runs)."""
    rows, starts, ends = _runs(near)
    parent = list(range(len(rows)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    h = near.shape[0]
    first = np.searchsorted(rows, np.arange(h + 1))
    for y in range(h - 1):
        i, i_end = int(first[y]), int(first[y + 1])
        j, j_end = i_end, int(first[y + 2])
        while i < i_end and j < j_end:
            if starts[i] < ends[j] and starts[j] < ends[i]:
                a, b = root(i), root(j)
                if a != b:
                    parent[b] = a
            if ends[i] < ends[j]:
                i += 1
            else:
                j += 1
    wanted = set()
    for y, x in seeds:
        for k in range(int(first[y]), int(first[y + 1])):
            if starts[k] <= x < ends[k]:
                wanted.add(root(k))
    marks = np.zeros((h, near.shape[1] + 1), dtype=np.int32)
    chosen = np.array([root(k) in wanted for k in range(len(rows))], dtype=bool)
    np.add.at(marks, (rows[chosen], starts[chosen]), 1)
    np.add.at(marks, (rows[chosen], ends[chosen]), -1)
    out: np.ndarray = np.cumsum(marks, axis=1)[:, :-1] > 0
    return out


def knock_out(img: Image.Image, tolerance: int = KNOCKOUT_TOLERANCE) -> Image.Image:
    """``img`` as RGBA with a flat white or black background made transparent: flooded from
    the four corners (all four must be that colour), anti-aliased edge pixels turned
    partly transparent with the background's tint taken out. Any other logo (transparent
    already, a photo, a coloured background) comes back unchanged."""
    rgba = to_rgba(img)
    arr = np.asarray(rgba)
    h, w = arr.shape[:2]
    if h < 4 or w < 4:
        return rgba
    corners = arr[[0, 0, h - 1, h - 1], [0, w - 1, 0, w - 1]]
    if (corners[:, 3] < 250).any():
        return rgba
    if (corners[:, :3] >= 255 - tolerance).all():
        bg = 255
    elif (corners[:, :3] <= tolerance).all():
        bg = 0
    else:
        return rgba
    rgb = arr[..., :3].astype(np.int16)
    distance = np.abs(rgb - bg).max(axis=2)
    near = distance <= tolerance
    border = np.concatenate([near[0], near[-1], near[:, 0], near[:, -1]])
    if border.mean() < _FLAT_BORDER:
        return rgba
    background = _connected_to(near, [(0, 0), (0, w - 1), (h - 1, 0), (h - 1, w - 1)])
    if background.mean() > 0.98:  # nothing but background: leave it as it came
        return rgba
    # The rim next to the background: alpha from the distance to the background colour,
    # colour un-mixed from it (an anti-aliased red-on-white pixel becomes a see-through red).
    rim = _grow(background, 2) & ~background
    out = arr.copy()
    out[..., 3][background] = 0
    ry, rx = np.nonzero(rim)
    cover = np.clip(distance[ry, rx].astype(np.float32) / 255.0 * 1.6, 1e-3, 1.0)
    unmixed = (rgb[ry, rx] - bg * (1 - cover[:, None])) / cover[:, None]
    out[ry, rx, :3] = np.clip(unmixed + 0.5, 0, 255).astype(np.uint8)
    out[ry, rx, 3] = np.round(arr[ry, rx, 3] * cover).astype(np.uint8)
    return Image.fromarray(out, "RGBA")


def _grow(mask: np.ndarray, by: int) -> np.ndarray:
    """``mask`` dilated by a (2 * by + 1)-pixel square (rows, then columns)."""
    out = mask.copy()
    for shift in range(1, by + 1):
        out[shift:] |= mask[:-shift]
        out[:-shift] |= mask[shift:]
    rows = out.copy()
    for shift in range(1, by + 1):
        out[:, shift:] |= rows[:, :-shift]
        out[:, :-shift] |= rows[:, shift:]
    return out
