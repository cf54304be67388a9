"""Pick the layout whose text regions fall on the calmest part of the background."""

from __future__ import annotations

import numpy as np
from PIL import Image

from .formats import Format
from .layouts import LAYOUT_NAMES, Layout, get_layout, pixel_box

__all__ = ["choose_layout", "edge_energy"]

ENERGY_SIDE = 96


def edge_energy(image: Image.Image,
                box: tuple[float, float, float, float] | None = None) -> np.ndarray:
    """Gradient magnitude of a small greyscale copy of ``image`` (or of its ``box``, the
    region a canvas is cover-fitted from), values ~0 calm .. ~0.3 very busy."""
    src = box if box is not None else (0.0, 0.0, float(image.width), float(image.height))
    w, h = src[2] - src[0], src[3] - src[1]
    scale = ENERGY_SIDE / max(w, h)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = image
    if scale < 1:  # area average first: a big upload is never converted whole
        small = small.resize(size, Image.Resampling.BOX, box=src, reducing_gap=2.0)
    elif box is not None:
        small = small.crop((round(src[0]), round(src[1]), round(src[2]), round(src[3])))
    small = small.convert("L") if small.mode != "L" else small
    grey = np.asarray(small, dtype=np.float32) / 255.0
    gy, gx = np.gradient(grey)
    out: np.ndarray = np.hypot(gx, gy)
    return out


def _score(layout: Layout, energy: np.ndarray, fmt: Format) -> float:
    variant = layout.variant(fmt)
    h, w = energy.shape
    sx, sy = w / fmt.width, h / fmt.height
    covered = {p.block: p.opacity for p in variant.panels if p.block}
    solid = [pixel_box(p.area, (0, 0, fmt.width, fmt.height)) for p in variant.panels
             if p.style == "solid"]
    total, weight = 0.0, 0.0
    for block in variant.blocks:
        box = pixel_box(block.box, fmt.safe_box)
        left, top = int(box[0] * sx), int(box[1] * sy)
        right, bottom = max(left + 1, int(box[2] * sx)), max(top + 1, int(box[3] * sy))
        region = energy[top:bottom, left:right]
        mean = float(region.mean()) if region.size else 0.0
        damp = covered.get(block.id, 0.0)
        if any(s[0] <= box[0] and s[1] <= box[1] and s[2] >= box[2] and s[3] >= box[3]
               for s in solid):
            damp = 1.0
        area = float((box[2] - box[0]) * (box[3] - box[1]))
        weight += area * (2.0 if "title" in block.roles else 1.0)
        total += mean * (1.0 - damp) * area * (2.0 if "title" in block.roles else 1.0)
    return total / max(weight, 1.0) + layout.auto_penalty


def choose_layout(background: Image.Image, fmt: Format,
                  box: tuple[float, float, float, float] | None = None
                  ) -> tuple[Layout, dict[str, object]]:
    """The calmest layout for this background (already cover-fitted, or the ``box`` of it
    that will be cover-fitted), and why."""
    energy = edge_energy(background, box)
    scores = {name: round(_score(get_layout(name), energy, fmt), 5) for name in LAYOUT_NAMES}
    best = min(LAYOUT_NAMES, key=lambda n: (scores[n], n))
    reason: dict[str, object] = {
        "mode": "auto",
        "chosen": best,
        "why": "its text regions cover the calmest part of the picture (lowest edge energy, "
               "plus a small penalty for layouts that hide the picture under a panel)",
        "calm_scores": scores,
    }
    return get_layout(best), reason
