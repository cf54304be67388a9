"""The second half of compose: decide everything from a Surface, then ink the canvas.

``plan`` needs only the measuring surface (built from the source background, so it runs while
the canvas is still being resized): panels, text colours and scrims, the manifest's elements and
whether each logo needs a plate. It records every drawing operation in order; ``apply`` replays
them on the canvas once it exists. Nothing a later decision measures is drawn only on the
canvas: panels and scrims are mirrored on the surface as they are decided, as before.
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, ImageDraw

from ..colours import RGB, hex_colour
from ..models import FlyerSpec
from .backdrops import Frost
from .blocks import PlacedText
from .fonts import Pairing
from .formats import Format
from .geometry import Box
from .layouts import Layout, Variant, pixel_box
from .legibility import LARGE_TEXT, Surface
from .paint import (
    LogoOp,
    Tint,
    apply_logo,
    decide_logo,
    overlay_tint,
    roundel_tint,
)
from .readable import Block, decide_inks, line_boxes, threshold
from .text import Stamp, paint
from .tones import lazy_hue, panel_colour

__all__ = ["Plan", "Work", "apply", "manifest", "plan"]



@dataclass
class Work:
    """Everything compose can do before any pixels exist."""

    variant: Variant
    texts: dict[str, str]
    pad: int
    metro_logo: Image.Image | None
    roundel: bool
    placed: dict[str, list[PlacedText]]
    regions: dict[str, Box]
    stamps: dict[str, tuple[Stamp, ...]]
    qr: tuple[Image.Image, Box] | None
    logo: Future[tuple[Image.Image, Image.Image, Box]] | None
    mirrored: bool = False
    """The layout is flipped left to right (a right-to-left title)."""


@dataclass(frozen=True)
class _Ink:
    stamps: tuple[Stamp, ...]
    colour: RGB


@dataclass(frozen=True)
class _Paste:
    image: Image.Image
    at: tuple[int, int]


_Op = Tint | Frost | _Ink | _Paste | LogoOp


@dataclass
class Plan:
    """The drawing operations in canvas order, the manifest's elements and the underlay."""

    ops: list[_Op] = field(default_factory=list)
    elements: list[dict[str, Any]] = field(default_factory=list)
    underlay: RGB | None = None
    backdrops: list[dict[str, Any]] = field(default_factory=list)
    panels: list[dict[str, Any]] = field(default_factory=list)
    """Panels, scrims and frosted cards as drawn (box, opacity): what covers the picture
    besides the elements."""


def _union(boxes: list[Box]) -> Box:
    return (min(b[0] for b in boxes), min(b[1] for b in boxes),
            max(b[2] for b in boxes), max(b[3] for b in boxes))


def _panels(surface: Surface, fmt: Format, work: Work, underlay: RGB | None,
            out: Plan) -> set[str]:
    """Lay the layout's panels (underlays); returns the blocks that sit on one."""
    if underlay is None:
        return set()
    variant, placed, pad = work.variant, work.placed, work.pad
    short = min(fmt.width, fmt.height)
    safe = fmt.safe_box
    qr_box = work.qr[1] if work.qr is not None else None
    on_panel: set[str] = set()
    panels: list[tuple[Box, float, int]] = []
    for p in variant.panels:
        if p.style == "solid":
            box = pixel_box(p.area, (0, 0, fmt.width, fmt.height))
            panels.append((box, p.opacity, 0))
            on_panel.update(b.id for b in variant.blocks
                            if all(pixel_box(b.box, safe)[i] >= box[i] for i in (0, 1))
                            and all(pixel_box(b.box, safe)[i] <= box[i] for i in (2, 3)))
            continue
        items = placed.get(p.block or "", [])
        if not items:
            continue
        content = _union([t.box for t in items])
        if p.style == "card":
            box = (content[0] - pad, content[1] - pad, content[2] + pad, content[3] + pad)
            panels.append((box, p.opacity, round(0.02 * short)))
        else:
            top = content[1]
            if qr_box is not None and qr_box[3] > content[1]:
                top = min(top, qr_box[1])
            panels.append(((0, top - pad, fmt.width, fmt.height), p.opacity, 0))
        on_panel.add(p.block or "")
    size = (fmt.width, fmt.height)
    for box, opacity, radius in panels:
        surface.blend(box, underlay, opacity, radius)
        out.ops.append(overlay_tint(size, box, underlay, opacity, radius))
        out.panels.append({"kind": "panel", "box": list(box), "opacity": opacity})
    return on_panel


def plan(surface: Surface, spec: FlyerSpec, fmt: Format, pairing: Pairing,
         palette: tuple[str, ...], work: Work) -> Plan:
    """Panels, legibility and logo plates, decided on ``surface`` (which gains the panels
    and backdrops); the ink is recorded in the order ``apply`` must draw it."""
    variant, placed = work.variant, work.placed
    tone = lazy_hue(surface)
    # the panels' colour; without panels or a palette nobody needs it: the picture's hue
    # is then only read if a backdrop needs a colour
    underlay = panel_colour(tone, palette) if variant.panels or palette else None
    out = Plan(underlay=underlay)
    on_panel = _panels(surface, fmt, work, underlay, out)

    # Legibility for every block at once; backdrops are drawn before any text.
    blocks = [Block(b.id, placed[b.id], b.id in on_panel) for b in variant.blocks
              if placed[b.id]]
    inks = decide_inks(surface, fmt, palette, tone, underlay, blocks, work.pad)
    for covers, backdrop in inks.backdrops:
        out.ops.append(backdrop.op)
        out.backdrops.extend(backdrop.describe(block) for block in covers)
        out.panels.append({"kind": backdrop.kind, "box": list(backdrop.box),
                           "opacity": round(backdrop.opacity, 2)})
    elements = out.elements
    colours = inks.colours
    for block in blocks:
        for item in block.items:
            el: dict[str, Any] = {
                "role": item.role, "text": item.text, "box": list(item.box),
                "colour": hex_colour(colours[item.role]),
                "font": item.fitted.primary.name, "fonts_used": item.fitted.faces(),
                "size": item.fitted.size, "lines": list(item.fitted.lines),
                "direction": item.fitted.direction, "align": item.align,
                "contrast": round(inks.contrast[item.role], 2),
                "threshold": threshold(item, fmt),
                "treatment": inks.treatment[item.role], "block": block.id,
                "line_boxes": [list(b) for b in line_boxes(item)],
            }
            if item.metro_logo_box is not None:
                el["logo_box"] = list(item.metro_logo_box)
            elements.append(el)

    for items in placed.values():
        for item in items:
            out.ops.append(_Ink(work.stamps[item.role], colours[item.role]))
            if item.metro_logo_box is None:
                continue
            metro_el = elements[[e["role"] for e in elements].index("metro")]
            if work.roundel:
                out.ops.append(roundel_tint(item.metro_logo_box, colours[item.role],
                                            pairing.body_bold))
                metro_el.update(logo_contrast=round(inks.logo_contrast[item.role], 2),
                                logo_threshold=metro_el["threshold"],
                                logo_treatment="roundel")
            elif work.metro_logo is not None:
                op = decide_logo(work.metro_logo, item.metro_logo_box, surface,
                                 (fmt.width, fmt.height), threshold=metro_el["threshold"])
                out.ops.append(op)
                metro_el.update(logo_contrast=round(op.ratio, 2),
                                logo_threshold=metro_el["threshold"],
                                logo_treatment=op.treatment)

    if work.qr is not None:
        qr_img, qr_box = work.qr
        out.ops.append(_Paste(qr_img, (qr_box[0], qr_box[1])))
        elements.append({"role": "qr", "text": spec.details.validated().url,
                         "box": list(qr_box), "colour": "#000000", "contrast": 21.0,
                         "threshold": LARGE_TEXT, "treatment": "plate",
                         "modules_px": qr_img.width})
    if work.logo is not None:
        original, fitted_logo, box = work.logo.result()
        op = decide_logo(original, box, surface, (fmt.width, fmt.height), fitted_logo,
                         fitted_logo)  # the plate's inset is smaller: a cheap downscale
        out.ops.append(op)
        elements.append({"role": "logo", "box": list(box), "colour": None,
                         "contrast": round(op.ratio, 2), "threshold": LARGE_TEXT,
                         "treatment": op.treatment})
    return out


def apply(canvas: Image.Image, decided: Plan, dy: int = 0) -> None:
    """Draw the planned operations onto ``canvas``, in order, in place. ``canvas`` holds the
    flyer's rows from ``dy`` down: a horizontal strip gets exactly the pixels it would have
    in the whole canvas (each operation blends pixel by pixel; Pillow clips at the edges)."""
    draw = ImageDraw.Draw(canvas)
    for op in decided.ops:
        if isinstance(op, (Tint, Frost)):
            op.draw(canvas, dy)
        elif isinstance(op, _Ink):
            paint(draw, op.stamps, op.colour, dy)
        elif isinstance(op, _Paste):
            x, y = op.at
            if y - dy < canvas.height and y - dy + op.image.height > 0:
                canvas.paste(op.image, (x, y - dy))
        else:
            apply_logo(canvas, op, dy)


def manifest(spec: FlyerSpec, lay: Layout, reason: dict[str, Any], fmt: Format,
             pairing: Pairing, palette: tuple[str, ...], work: Work, decided: Plan,
             warnings: list[str]) -> dict[str, Any]:
    """The flyer's manifest: what was drawn where, and why."""
    return {
        "layout": lay.name,
        "layout_reason": reason,
        "mirrored": work.mirrored,
        "format": {"name": fmt.name, "width": fmt.width, "height": fmt.height, "dpi": fmt.dpi,
                   "bleed": fmt.bleed, "print": fmt.print, "safe_box": list(fmt.safe_box),
                   "zones": [list(z) for z in fmt.zone_boxes]},
        "palette": list(palette),
        "underlay": hex_colour(decided.underlay) if decided.underlay is not None else None,
        "backdrops": decided.backdrops,
        "fonts": {"pairing": pairing.name, "title": pairing.title.name,
                  "body": pairing.body.name, "body_bold": pairing.body_bold.name},
        "regions": {k: list(v) for k, v in work.regions.items()},
        "elements": decided.elements,
        "panels": decided.panels,
        "warnings": warnings,
        "provenance": dict(spec.provenance),
    }
