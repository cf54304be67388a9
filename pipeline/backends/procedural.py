"""The offline backend: designed abstract backgrounds, no network, clearly not AI.

Each image is painted at a small size (at most ``_WORK_SIDE`` pixels on its long side) with
vectorised numpy, one plane per colour channel (``(3, h, w)``: an array whose last axis is
the 3 channels makes numpy loop 3 values at a time, several times slower), softened with a
Gaussian blur, scaled up smoothly (bicubic), and finished with a fine grain that also hides
banding. Five styles (gradient, mesh, bokeh, rays, waves) are picked by seed — consecutive
seeds get different styles — in a palette from the brand colours or the prompt's words. Same
prompt, seed and size give the same pixels. Each style returns its (3, h, w) planes, 0-1.
"""

from __future__ import annotations

import colorsys
import hashlib
import threading
from collections.abc import Callable
from functools import lru_cache

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from ..errors import BackendResponseError
from ..pixels import pixels
from ._batch import Batch
from ._palette import Palette, palette_for
from ._sizes import fit_area
from .base import (
    Capabilities,
    GeneratedImage,
    Painting,
    PaintRequest,
    ProgressCallback,
)

__all__ = ["STYLES", "ProceduralBackend", "colours_for", "render"]

_WORK_SIDE = 288
_GRAIN = 6  # monochrome grain, uniform in -6..6 levels (standard deviation about 3.7)

Array = np.ndarray
Style = Callable[[np.random.Generator, Palette, int, int], Array]


# --- helpers -----------------------------------------------------------------------------------


def stable_int(*parts: object) -> int:
    """A 64-bit integer from ``parts``, the same in every process (unlike ``hash()``)."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big")


def colours_for(prompt: str, seed: int, brand: tuple[str, ...] = ()) -> Palette:
    """[base, base2, accent, accent2, glow]; the seed nudges hues a little (not brand ones)."""
    roles = palette_for(prompt, brand)
    colours = [roles.base, roles.base2, roles.accent, roles.accent2, roles.glow]
    if brand:
        return colours
    shift = np.random.default_rng(stable_int("hue", prompt, seed)).uniform(-0.03, 0.03)
    nudged = []
    for colour in colours:
        h, lightness, s = colorsys.rgb_to_hls(*colour)
        nudged.append(colorsys.hls_to_rgb((h + shift) % 1.0, lightness, s))
    return nudged


def _blend(a: tuple[float, float, float], b: tuple[float, float, float], t: float) -> (
    tuple[float, float, float]
):
    return (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t)


def _grid(w: int, h: int) -> tuple[Array, Array]:
    """Coordinates in units of the geometric-mean side, so circles stay round."""
    unit = float(np.sqrt(w * h))
    xs = (np.arange(w, dtype=np.float32)[None, :] + 0.5) / unit
    ys = (np.arange(h, dtype=np.float32)[:, None] + 0.5) / unit
    return xs, ys


def _smooth(t: Array) -> Array:
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _ramp(t: Array, colours: list[tuple[float, float, float]]) -> Array:
    """Multi-stop gradient: t in 0..1 (h, w) -> colour planes (3, h, w)."""
    stops = np.linspace(0.0, 1.0, len(colours))
    table = np.asarray(colours, dtype=np.float32)
    # np.interp computes in float64 whatever it is given: converting once is ~2x faster
    flat = np.clip(t, 0.0, 1.0).ravel().astype(np.float64)
    channels = [np.interp(flat, stops, table[:, c]) for c in range(3)]
    return np.stack(channels).reshape(3, *np.shape(t)).astype(np.float32)


def _planes(colour: tuple[float, float, float]) -> Array:
    """A colour as (3, 1, 1), to weigh against (h, w) planes."""
    return np.asarray(colour, dtype=np.float32)[:, None, None]


def _mix(base: Array, colour: tuple[float, float, float], alpha: Array) -> Array:
    """``base`` (3, h, w) towards ``colour`` by ``alpha`` (h, w)."""
    return base * (1.0 - alpha) + _planes(colour) * alpha


def _linear_base(rng: np.random.Generator, w: int, h: int, colours: Palette) -> Array:
    xs, ys = _grid(w, h)
    angle = rng.uniform(0, 2 * np.pi)
    proj = xs * np.cos(angle) + ys * np.sin(angle)
    t = (proj - proj.min()) / max(float(proj.max() - proj.min()), 1e-6)
    return _ramp(_smooth(t), colours)


def _glow(w: int, h: int, cx: float, cy: float, radius: float) -> Array:
    """Gaussian glow centred at (cx, cy) given as fractions of the canvas."""
    xs, ys = _grid(w, h)
    unit = float(np.sqrt(w * h))
    d2 = (xs - cx * w / unit) ** 2 + (ys - cy * h / unit) ** 2
    return np.exp(-d2 / (2 * radius * radius)).astype(np.float32)


# --- styles: each gets [base, base2, accent, accent2, glow] ------------------------------------


def _gradient(rng: np.random.Generator, p: Palette, w: int, h: int) -> Array:
    """A smooth multi-stop gradient of the ground, warmed by a soft glow of an accent."""
    stops = [p[0], p[1], _blend(p[1], p[2 + int(rng.integers(0, 2))], 0.45)]
    if rng.random() < 0.5:
        stops = stops[::-1]
    image = _linear_base(rng, w, h, stops)
    glow = _glow(w, h, rng.uniform(0.1, 0.9), rng.uniform(0.1, 0.9), rng.uniform(0.25, 0.4))
    return _mix(image, p[4], glow * 0.35)


def _mesh(rng: np.random.Generator, p: Palette, w: int, h: int) -> Array:
    """A mesh gradient: large soft colour fields blended by Gaussian weight."""
    xs, ys = _grid(w, h)
    unit = float(np.sqrt(w * h))
    total = np.full((h, w), 0.25, dtype=np.float32)
    acc = total * _planes(p[0])
    fields = [p[1], p[1], p[2], p[3], p[0]]
    rng.shuffle(fields)
    for colour in fields:
        cx, cy = rng.uniform(-0.1, 1.1) * w / unit, rng.uniform(-0.1, 1.1) * h / unit
        sigma = rng.uniform(0.2, 0.38)
        weight = np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * sigma * sigma))
        acc += weight * _planes(colour)
        total += weight
    return acc / total


def _bokeh(rng: np.random.Generator, p: Palette, w: int, h: int) -> Array:
    """Out-of-focus light discs gathered along a band, over the ground's gradient."""
    base = _linear_base(rng, w, h, [p[0], p[1], p[0]])
    image = Image.fromarray(np.ascontiguousarray((base * 255).astype(np.uint8).transpose(1, 2, 0)),
                            "RGB")
    draw = ImageDraw.Draw(image, "RGBA")
    side = min(w, h)
    band_angle = rng.uniform(0, np.pi)
    band_offset = rng.uniform(-0.3, 0.3)
    lights = [p[2], p[3], p[4], p[4]]
    for _ in range(int(rng.integers(20, 34))):
        along = rng.uniform(-0.7, 0.7)
        across = band_offset + rng.normal(0, 0.14)
        x = 0.5 + along * np.cos(band_angle) - across * np.sin(band_angle)
        y = 0.5 + along * np.sin(band_angle) + across * np.cos(band_angle)
        radius = side * rng.uniform(0.02, 0.1) * (1.6 if rng.random() < 0.12 else 1.0)
        colour = lights[int(rng.integers(0, len(lights)))]
        rgba = (*(int(c * 255) for c in colour), int(rng.uniform(35, 110)))
        cx, cy = x * w, y * h
        draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=rgba)
    image = image.filter(ImageFilter.GaussianBlur(max(0.6, side / 240)))
    return pixels(image).transpose(2, 0, 1).astype(np.float32) / 255.0


def _rays(rng: np.random.Generator, p: Palette, w: int, h: int) -> Array:
    """Soft light rays fanning out from a point just off one corner."""
    base = _linear_base(rng, w, h, [p[0], p[1]])
    xs, ys = _grid(w, h)
    unit = float(np.sqrt(w * h))
    fx, fy = rng.choice([-0.12, 1.12]), rng.choice([-0.12, 1.12])
    corner_x, corner_y = fx * w / unit, fy * h / unit
    theta = np.arctan2(ys - corner_y, xs - corner_x)
    dist = np.sqrt((xs - corner_x) ** 2 + (ys - corner_y) ** 2)
    rays = np.zeros_like(theta)
    for _ in range(3):
        rays += np.sin(theta * rng.uniform(8, 20) + rng.uniform(0, 2 * np.pi))
    rays = _smooth(rays / 3 + 0.4) ** 2
    falloff = np.exp(-dist / rng.uniform(0.6, 1.0))
    image = _mix(base, p[4], rays * falloff * 0.45)
    return _mix(image, p[2 + int(rng.integers(0, 2))], _glow(w, h, fx, fy, 0.4) * 0.45)


def _waves(rng: np.random.Generator, p: Palette, w: int, h: int) -> Array:
    """Layered soft waves filling one end of the canvas, leaving the rest calm for text."""
    image = _linear_base(rng, w, h, [p[0], p[1]])
    xs = np.linspace(0.0, 1.0, w, dtype=np.float32)[None, :]
    ys = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None]
    depth = ys if rng.random() < 0.65 else 1.0 - ys
    count = int(rng.integers(3, 5))
    accent = p[2 + int(rng.integers(0, 2))]
    soft = 2.0 / h
    level = rng.uniform(0.55, 0.66)
    for i in range(count):
        edge = (
            level
            + rng.uniform(0.02, 0.045)
            * np.sin(2 * np.pi * rng.uniform(0.4, 1.2) * xs + rng.uniform(0, 2 * np.pi))
            + rng.uniform(0.008, 0.02)
            * np.sin(2 * np.pi * rng.uniform(1.5, 3.0) * xs + rng.uniform(0, 2 * np.pi))
        )
        colour = _blend(p[1], accent, 0.3 + 0.7 * (i + 1) / count)
        inside = _smooth((depth - edge) / soft + 0.5)
        shade = 1.0 - 0.2 * _smooth((depth - edge) / 0.3)
        layer = _planes(colour) * shade
        image = image * (1 - inside) + layer * inside
        level += rng.uniform(0.06, 0.1)
    return image


STYLES: dict[str, Style] = {
    "gradient": _gradient,
    "mesh": _mesh,
    "bokeh": _bokeh,
    "rays": _rays,
    "waves": _waves,
}


# --- rendering ----------------------------------------------------------------------------------


def _work_size(width: int, height: int) -> tuple[int, int]:
    scale = min(1.0, _WORK_SIDE / max(width, height))
    return max(8, round(width * scale)), max(8, round(height * scale))


def render(prompt: str, seed: int, width: int, height: int, palette: tuple[str, ...] = ()) -> (
    Image.Image
):
    """Paint one background: a pure function of its arguments."""
    colours = colours_for(prompt, seed, palette)
    names = list(STYLES)
    style = names[(stable_int("style", prompt.lower().strip()) + seed) % len(names)]
    rng = np.random.default_rng(stable_int("compose", prompt.lower().strip(), seed))
    w, h = _work_size(width, height)
    planes = STYLES[style](rng, colours, w, h)
    planes = planes * _vignette(w, h)  # a new array: the steps below work in place
    np.clip(planes, 0.0, 1.0, out=planes)
    planes *= 255
    planes += 0.5
    small = cv2.merge(list(planes.astype(np.uint8)))  # (h, w, 3)
    # softened, then scaled up smoothly (OpenCV's 8-bit Gaussian and bicubic: fixed-point,
    # so the same pixels on every machine; ~1.5 ms where Pillow's took ~8)
    small = cv2.GaussianBlur(small, (0, 0), 0.8)
    full = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    grain_rng = np.random.default_rng(stable_int("grain", seed, width, height))
    grain = grain_rng.integers(-_GRAIN, _GRAIN + 1, size=(height, width), dtype=np.int16)
    # full + grain, clipped to 0..255, as OpenCV's saturating uint8 add then subtract (each
    # pixel has one or the other): numpy's broadcast of one grain plane over 3 channels ran
    # 3 values at a time
    lighter = np.maximum(grain, 0).astype(np.uint8)
    darker = np.maximum(-grain, 0).astype(np.uint8)
    full = cv2.subtract(cv2.add(full, cv2.merge([lighter] * 3)), cv2.merge([darker] * 3))
    return Image.fromarray(full, "RGB")


@lru_cache(maxsize=16)
def _vignette(w: int, h: int) -> Array:
    """The darkening towards the edges, per pixel (h, w): the same for every painting of
    one work size, so made once (read-only)."""
    factor = 0.82 + 0.18 * _glow(w, h, 0.5, 0.5, 0.75)
    factor.flags.writeable = False
    return factor


class ProceduralBackend:
    """Offline, deterministic, designed backgrounds. Never touches the network."""

    name = "procedural"
    capabilities = Capabilities(progress=True, cancel=True, negative_prompt=False, slots=4)

    def __init__(self, side: int = 512) -> None:
        self._side = side

    @property
    def model(self) -> str:
        return "procedural-v1"

    @property
    def server(self) -> None:
        return None

    def check(self) -> None:
        return None

    def paint_size(self, request: PaintRequest) -> tuple[int, int]:
        return fit_area(request.aspect, self._side * self._side, 8, request.pixel_budget)

    def generate(
        self,
        request: PaintRequest,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> Painting:
        if request.count <= 0:
            raise BackendResponseError(f"Cannot paint {request.count} image(s).")
        batch = Batch.start(self, request, progress, cancel)
        width, height = batch.size
        palette_for("", request.palette)  # a bad brand colour raises InvalidRequest now
        seed = batch.first_seed(2**32 - request.count)
        images: list[GeneratedImage] = []
        batch.report(0.0, "painting")
        for i in range(request.count):
            batch.check_cancel()
            image = render(request.prompt, seed + i, width, height, request.palette)
            images.append(GeneratedImage(image=image, seed=seed + i, faces=False))
            batch.report((i + 1) / request.count * 0.99, f"painted {i + 1} of {request.count}")
        return batch.finish(self, images)
