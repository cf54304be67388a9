"""Shared test material: backgrounds, event texts, logos, and checks on a composed flyer."""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from pipeline.models import EventDetails

__all__ = ["TEXTS", "background", "check_flyer", "logo_image", "photo", "pixel_contrast"]

SHORT = EventDetails(
    title="Jazz Night", subtitle="Live at the harbour", date="Sat 14 June", time="21:00",
    venue="Old Warehouse, Quay 3", metro="Bastille", url="https://example.org/jazz",
    description="Three bands, one night.", organiser="Harbour Arts",
)
LONG = EventDetails(
    title="The Summer Festival of Improvised Music and Late Night Jazz",
    subtitle="Forty musicians, three stages and a night market by the water",
    date="Saturday 14 June 2025", time="20:00 – 02:00",
    venue="The Old Grain Warehouse, Quay 3, Harbour District", metro="Gare de Lyon",
    url="https://example.org/events/summer-jazz-2025",
    description="An evening of improvised music from local and visiting ensembles. Food "
                "trucks and a vinyl market from 19:00. Free entry before 21:00.",
    organiser="Harbour Arts Collective",
)
RTL = EventDetails(title="ليلة الجاز في المدينة", subtitle="מסיבת ג׳אז",
                   venue="מועדון הג׳אז תל אביב", date="14.06.2025", metro="Bastille",
                   url="https://example.org/ar")
CJK = EventDetails(title="東京ジャズ", description="東京ジャズフェスティバル、今年も開催します。"
                   "音楽と食事をお楽しみください。", venue="渋谷区", url="https://example.org/jp")
EMOJI = EventDetails(title="Party 🎉 Time 🎷", subtitle="Dance ★ all night 💃🏽", date="Fri",
                     url="https://example.org/p")
TEXTS = {"short": SHORT, "long": LONG, "rtl": RTL, "cjk": CJK, "emoji": EMOJI}


def background(kind: str, w: int = 256, h: int = 320, seed: int = 0) -> Image.Image:
    """Test backgrounds: 'dusk' (gradient), 'light', 'noise' (busy everywhere),
    'busy_top' (noise on top, flat at the bottom)."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0, 1, h)[:, None, None]
    if kind == "dusk":
        img = np.array([30, 20, 80]) * (1 - y) + np.array([250, 120, 60]) * y
    elif kind == "light":
        img = np.array([240, 232, 215]) * (1 - 0.15 * y)
    else:
        noise = rng.integers(0, 256, (h // 4, w // 4, 3)).repeat(4, 0).repeat(4, 1)
        img = noise.astype(np.float64)
        if kind == "busy_top":
            img[h * 45 // 100:] = np.array([40, 60, 90])
    return Image.fromarray(np.clip(img + np.zeros((h, w, 3)), 0, 255).astype(np.uint8))


def photo(name: str) -> Image.Image:
    """A real photograph shipped with scikit-image (no download): 'astronaut', 'coffee',
    'chelsea', 'rocket', 'hubble_deep_field', 'gravel', 'grass', 'camera'... (grey ones made
    RGB)."""
    from skimage import data

    pixels = np.asarray(getattr(data, name)())
    if pixels.ndim == 2:
        pixels = np.stack([pixels] * 3, axis=-1)
    return Image.fromarray(pixels[..., :3].astype(np.uint8), "RGB")


def logo_image(mode: str) -> Image.Image:
    """A two-colour logo in the given mode (transparent background where the mode allows)."""
    im = Image.new("RGBA", (240, 120), (0, 0, 0, 0))
    d = ImageDraw.Draw(im)
    d.ellipse((0, 0, 119, 119), fill=(200, 30, 40, 255))
    d.rectangle((130, 30, 239, 90), fill=(20, 40, 160, 255))
    if mode == "RGBA":
        return im
    if mode == "LA":
        return im.convert("LA")
    if mode == "P":
        return im.convert("P")
    flat = Image.new("RGB", im.size, (250, 250, 250))
    flat.paste(im, (0, 0), im)
    return flat.convert(mode)


def pixel_contrast(image: Image.Image, box: list[int], colour: str,
                   exclude: list[int] | None = None) -> float:
    """Worst-case (10th percentile) contrast between ``colour`` and the final pixels in
    ``box`` that are not the text itself (text pixels and their anti-aliased rim excluded)."""
    crop = np.asarray(image.crop((box[0], box[1], box[2], box[3])).convert("RGB"),
                      dtype=np.float64)
    c = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)], dtype=np.float64)
    # ink: pixels at least a quarter of the way from the typical background towards the text
    # colour (catches anti-aliasing), grown by 3 px
    typical = np.median(crop.reshape(-1, 3), axis=0)
    reach = np.abs(typical - c).sum()
    ink = (np.abs(crop - c).sum(axis=2) < 0.75 * reach).astype(np.uint8) * 255
    rim = np.asarray(Image.fromarray(ink).filter(ImageFilter.MaxFilter(7))) > 0
    if exclude is not None:  # e.g. the metro logo beside the station name
        rim[max(0, exclude[1] - box[1]):exclude[3] - box[1],
            max(0, exclude[0] - box[0]):exclude[2] - box[0]] = True
    bg = crop[~rim] / 255.0
    if bg.size == 0:
        return 21.0

    def lum(v: np.ndarray) -> np.ndarray:
        lin = np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)
        out: np.ndarray = lin @ np.array([0.2126, 0.7152, 0.0722])
        return out

    lb = lum(bg)
    lc = float(lum(c[None, :] / 255.0)[0])
    ratio = (np.maximum(lb, lc) + 0.05) / (np.minimum(lb, lc) + 0.05)
    return float(np.percentile(ratio, 10))


def _inside(inner: list[int] | tuple[int, ...], outer: list[int] | tuple[int, ...]) -> bool:
    return (inner[0] >= outer[0] and inner[1] >= outer[1] and inner[2] <= outer[2]
            and inner[3] <= outer[3])


def _overlap(a: list[int], b: list[int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def check_flyer(image: Image.Image, manifest: dict[str, Any]) -> None:
    """Every element inside the canvas, the safe box and its region and clear of the
    platform's zones; no overlaps; contrast above threshold in the manifest (the metro icon
    included) and, for text, in the final pixels under each line."""
    fmt = manifest["format"]
    assert image.size == (fmt["width"], fmt["height"])
    assert image.mode == "RGB"
    canvas = (0, 0, fmt["width"], fmt["height"])
    els = manifest["elements"]
    assert els, "no elements"
    for el in els:
        box = el["box"]
        assert box[0] < box[2] and box[1] < box[3], el
        assert _inside(box, canvas), (el["role"], box)
        assert _inside(box, fmt["safe_box"]), (el["role"], box, fmt["safe_box"])
        if "block" in el:
            assert _inside(box, manifest["regions"][el["block"]]), (el["role"], box)
        for zone in fmt.get("zones", []):
            assert not _overlap(box, zone), (el["role"], box, zone)
        assert el["contrast"] >= el["threshold"], (el["role"], el["contrast"], el["treatment"])
        if "logo_contrast" in el:
            assert el["logo_contrast"] >= el.get("logo_threshold", 3.0), el
        if el.get("text") and el["role"] != "qr":
            measured = min(pixel_contrast(image, line, el["colour"], el.get("logo_box"))
                           for line in el.get("line_boxes", [box]))
            assert measured >= el["threshold"] * 0.9, (el["role"], measured, el)
    for i, a in enumerate(els):
        for b in els[i + 1:]:
            assert not _overlap(a["box"], b["box"]), (a["role"], a["box"], b["role"], b["box"])
