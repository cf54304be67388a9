"""compose(background, spec, layout, fmt) -> Flyer: the whole flyer, pure and deterministic.

Order of work: cover-fit the background to the full canvas (bleed included), pick the layout
(``auto``: calmest text regions), fit every text block, lay the panels, make every element
legible against the pixels actually under it (recolour, then scrim), then draw text, the QR
code and the logos, and describe all of it in the manifest.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageDraw

from ..errors import RenderError
from ..models import Flyer, FlyerSpec, normalise_palette
from .autolayout import choose_layout
from .blocks import METRO_LOGO_GAP, PlacedText, fit_block
from .fonts import Pairing, get_pairing
from .formats import Format
from .layouts import LAYOUT_NAMES, TEXT_ROLES, Layout, Variant, get_layout, pixel_box
from .legibility import LARGE_TEXT, NORMAL_TEXT, Surface, is_large_text, rgb
from .logos import fit_into, shrink_to_boxes, to_rgba
from .paint import (
    dark_tint,
    draw_roundel,
    overlay,
    place_logo,
    place_qr,
    plate_variant,
    resolve_block_colours,
)
from .resample import start_resize, workers
from .text import Stamp, clean_text, paint

__all__ = ["compose", "cover_fit", "prepare_logo"]

Box = tuple[int, int, int, int]


def _cover_box(img: Image.Image, fmt: Format) -> tuple[float, float, float, float]:
    """The centred source box with the canvas's aspect (as ImageOps.fit, centering 0.5)."""
    ratio = fmt.width / fmt.height
    if img.width / img.height == ratio:
        crop_w, crop_h = float(img.width), float(img.height)
    elif img.width / img.height > ratio:
        crop_w, crop_h = ratio * img.height, float(img.height)
    else:
        crop_w, crop_h = float(img.width), img.width / ratio
    left, top = (img.width - crop_w) * 0.5, (img.height - crop_h) * 0.5
    return (left, top, left + crop_w, top + crop_h)


def _start_cover_fit(pool: Executor, background: Image.Image,
                     fmt: Format) -> Callable[[], Image.Image]:
    img = background.convert("RGB") if background.mode != "RGB" else background
    box = _cover_box(img, fmt)
    # Enlarging (the usual case: a 512-px painting on a 1080-px or print canvas), bicubic
    # looks the same as Lanczos (-0.5 dB PSNR on a detailed photo, no visible difference)
    # at 60% of the cost; shrinking keeps Lanczos, which is sharper there.
    upscale = fmt.width > box[2] - box[0]
    method = Image.Resampling.BICUBIC if upscale else Image.Resampling.LANCZOS
    return start_resize(pool, img, (fmt.width, fmt.height), method, box)


def cover_fit(background: Image.Image, fmt: Format) -> Image.Image:
    """Scale to cover the whole canvas (bleed included), centre-crop; never distort."""
    with ThreadPoolExecutor(max_workers=workers()) as pool:
        return _start_cover_fit(pool, background, fmt)()


def _texts(spec: FlyerSpec, lay: Layout, warnings: list[str]) -> dict[str, str]:
    details = spec.details.validated()
    pairing = get_pairing(spec.font_pairing)
    out: dict[str, str] = {}
    for role in TEXT_ROLES:
        raw = getattr(details, role)
        if not raw:
            continue
        face = pairing.face(lay.styles[role].font)
        cleaned, warns = clean_text(raw, face, role)
        warnings.extend(warns)
        if cleaned:
            out[role] = cleaned
        elif role == "title":
            raise RenderError("The title has nothing a font can draw (only emoji or unknown "
                              "symbols): add some words.", field="title")
    return out


def _union(boxes: list[Box]) -> Box:
    return (min(b[0] for b in boxes), min(b[1] for b in boxes),
            max(b[2] for b in boxes), max(b[3] for b in boxes))


def compose(background: Image.Image, spec: FlyerSpec, layout: str, fmt: Format) -> Flyer:
    """Compose one flyer. ``layout`` is a layout name or ``"auto"``."""
    warnings: list[str] = []
    pairing = get_pairing(spec.font_pairing)
    palette = normalise_palette(spec.palette)
    # The background resizes on other cores (Pillow drops the GIL) while this thread fits
    # and rasterises the text, which needs no pixels (only "auto" has to wait for them).
    auto = (layout or "").strip().lower() == "auto"
    lay = get_layout("centered_poster" if auto else layout)
    with ThreadPoolExecutor(max_workers=workers()) as pool:
        logo_job = None
        if spec.logo is not None and not auto:  # the logo first: it is needed last
            logo_job = _start_logo(pool, spec.logo, lay, fmt)
        pending = _start_cover_fit(pool, background, fmt)
        if auto:
            lay, reason = choose_layout(pending(), fmt)
            if spec.logo is not None:
                logo_job = _start_logo(pool, spec.logo, lay, fmt)
        else:
            reason = {"mode": "fixed", "chosen": lay.name, "why": "requested by name"}
        # Whether the logo needs a plate is known only with the canvas: size it for one
        # anyway on a core that the background no longer needs.
        plate_job = pool.submit(_plate_for, logo_job) if logo_job is not None else None
        work = _measure(spec, lay, fmt, pairing, warnings, logo_job, plate_job)
        canvas = pending()
        return _finish(canvas, spec, lay, reason, fmt, pairing, palette, work, warnings)


def prepare_logo(logo: Image.Image, fmt: Format) -> Image.Image:
    """The organiser logo downsized once to the largest size any layout shows it at in
    ``fmt``. Callers composing several flyers from one upload (a batch, re-renders) do this
    once and then resize a small image per flyer instead of the whole upload."""
    boxes = [pixel_box(get_layout(n).variant(fmt).logo.box, fmt.safe_box) for n in LAYOUT_NAMES]
    return shrink_to_boxes(logo, boxes)


def _plate_for(logo_job: Future[tuple[Image.Image, Image.Image, Box]]) -> Image.Image:
    _, fitted, box = logo_job.result()
    return plate_variant(fitted, box)  # the plate's inset is smaller: a cheap downscale


@dataclass
class _Work:
    """Everything compose can do before the canvas exists."""

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
    plate: Future[Image.Image] | None


def _prepare_logo(logo: Image.Image, region: Box, align: str, valign: str
                  ) -> tuple[Image.Image, Image.Image, Box]:
    """The organiser logo fitted into its region (resized on the pool)."""
    fitted, box = fit_into(logo, region, align, valign)
    return logo, fitted, box


def _start_logo(pool: Executor, logo: Image.Image, lay: Layout, fmt: Format
                ) -> Future[tuple[Image.Image, Image.Image, Box]]:
    """Resize the organiser logo on the pool (Pillow drops the GIL while resampling)."""
    place = lay.variant(fmt).logo
    return pool.submit(_prepare_logo, to_rgba(logo), pixel_box(place.box, fmt.safe_box),
                       place.align, place.valign)


def _measure(spec: FlyerSpec, lay: Layout, fmt: Format, pairing: Pairing,
             warnings: list[str],
             logo_job: Future[tuple[Image.Image, Image.Image, Box]] | None,
             plate_job: Future[Image.Image] | None) -> _Work:
    variant = lay.variant(fmt)
    safe = fmt.safe_box
    texts = _texts(spec, lay, warnings)
    short = min(fmt.width, fmt.height)
    pad = round(0.03 * short)
    metro_logo = to_rgba(spec.metro_logo) if spec.metro_logo is not None else None
    roundel = metro_logo is None and bool(texts.get("metro"))
    if roundel:  # no metro logo configured: reserve a square box for a drawn roundel
        metro_logo = Image.new("L", (1, 1))

    panel_of = {p.block: p for p in variant.panels if p.block}
    placed: dict[str, list[PlacedText]] = {}
    regions: dict[str, Box] = {}
    for block in variant.blocks:
        region = pixel_box(block.box, safe)
        panel = panel_of.get(block.id)
        if panel is not None and panel.style == "card":
            region = (region[0] + pad, region[1] + pad, region[2] - pad, region[3] - pad)
        regions[block.id] = region
        placed[block.id] = fit_block(block, region, texts, lay.styles, pairing, short,
                                     metro_logo, lay.name, fmt.name)

    stamps: dict[str, tuple[Stamp, ...]] = {}
    for items in placed.values():
        for item in items:
            x = item.box[0]
            if item.metro_logo_box is not None and item.fitted.direction == "ltr":
                x += (item.metro_logo_box[2] - item.metro_logo_box[0]
                      + round(item.fitted.size * METRO_LOGO_GAP))
            stamps[item.role] = item.fitted.stamps(x, item.box[1], item.fitted.width,
                                                   item.align)

    # QR and logo boxes first: a band panel reaches up to the QR code.
    qr = None
    details = spec.details.validated()
    if details.url:
        qr = place_qr(details.url, pixel_box(variant.qr.box, safe), variant.qr, fmt)
    return _Work(variant, texts, pad, metro_logo, roundel, placed, regions, stamps, qr,
                 logo_job, plate_job)


def _finish(canvas: Image.Image, spec: FlyerSpec, lay: Layout, reason: dict[str, Any],
            fmt: Format, pairing: Pairing, palette: tuple[str, ...], work: _Work,
            warnings: list[str]) -> Flyer:
    """Panels, legibility, then ink: everything that needs the canvas's pixels."""
    variant, placed, pad = work.variant, work.placed, work.pad
    short = min(fmt.width, fmt.height)
    safe = fmt.safe_box
    surface = Surface.of(canvas)
    underlay = (min((rgb(c) for c in palette), key=sum) if palette
                else dark_tint(surface.mean_colour((0, 0, fmt.width, fmt.height))))
    qr_box = work.qr[1] if work.qr is not None else None

    # Layout panels (underlays).
    on_panel: set[str] = set()
    draw_panels: list[tuple[Box, float, int]] = []
    for p in variant.panels:
        if p.style == "solid":
            box = pixel_box(p.area, (0, 0, fmt.width, fmt.height))
            draw_panels.append((box, p.opacity, 0))
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
            draw_panels.append((box, p.opacity, round(0.02 * short)))
        else:
            top = content[1]
            if qr_box is not None and qr_box[3] > content[1]:
                top = min(top, qr_box[1])
            draw_panels.append(((0, top - pad, fmt.width, fmt.height),
                                p.opacity, 0))
        on_panel.add(p.block or "")
    for box, opacity, radius in draw_panels:
        overlay(canvas, box, underlay, opacity, radius)
        surface.blend(box, underlay, opacity, radius)

    # Legibility, block by block; scrims are drawn before any text.
    elements: list[dict[str, Any]] = []
    colours: dict[str, tuple[int, int, int]] = {}
    for block in variant.blocks:
        items = placed[block.id]
        if not items:
            continue
        result = resolve_block_colours(items, surface, fmt, palette, underlay,
                                       block.id in on_panel, pad, short)
        if result.scrim is not None:
            box, opacity, radius = result.scrim
            overlay(canvas, box, result.scrim_colour, opacity, radius)
        for item in items:
            colours[item.role] = result.colours[item.role]
            threshold = (LARGE_TEXT if is_large_text(item.fitted.size, item.bold, fmt)
                         else NORMAL_TEXT)
            el: dict[str, Any] = {
                "role": item.role, "text": item.text, "box": list(item.box),
                "colour": "#{:02x}{:02x}{:02x}".format(*result.colours[item.role]),
                "font": item.fitted.primary.name, "fonts_used": item.fitted.faces(),
                "size": item.fitted.size, "lines": list(item.fitted.lines),
                "direction": item.fitted.direction, "align": item.align,
                "contrast": round(result.contrast[item.role], 2), "threshold": threshold,
                "treatment": result.treatment[item.role], "block": block.id,
            }
            if item.metro_logo_box is not None:
                el["logo_box"] = list(item.metro_logo_box)
            elements.append(el)

    draw = ImageDraw.Draw(canvas)
    for items in placed.values():
        for item in items:
            paint(draw, work.stamps[item.role], colours[item.role])
            if item.metro_logo_box is not None and work.roundel:
                draw_roundel(canvas, item.metro_logo_box, colours[item.role],
                             pairing.body_bold)
                metro_el = elements[[e["role"] for e in elements].index("metro")]
                metro_el.update(logo_contrast=metro_el["contrast"], logo_treatment="roundel")
            elif item.metro_logo_box is not None and work.metro_logo is not None:
                treatment, ratio = place_logo(canvas, work.metro_logo, item.metro_logo_box,
                                              surface)
                elements[[e["role"] for e in elements].index("metro")].update(
                    logo_contrast=round(ratio, 2), logo_treatment=treatment)

    if work.qr is not None:
        qr_img, qr_box = work.qr
        canvas.paste(qr_img, qr_box[:2])
        elements.append({"role": "qr", "text": spec.details.validated().url,
                         "box": list(qr_box), "colour": "#000000", "contrast": 21.0,
                         "threshold": LARGE_TEXT, "treatment": "plate",
                         "modules_px": qr_img.width})
    if work.logo is not None:
        original, fitted_logo, box = work.logo.result()
        treatment, ratio = place_logo(canvas, original, box, surface, fitted_logo,
                                      work.plate.result if work.plate is not None else None)
        elements.append({"role": "logo", "box": list(box), "colour": None,
                         "contrast": round(ratio, 2), "threshold": LARGE_TEXT,
                         "treatment": treatment})

    manifest: dict[str, Any] = {
        "layout": lay.name,
        "layout_reason": reason,
        "format": {"name": fmt.name, "width": fmt.width, "height": fmt.height, "dpi": fmt.dpi,
                   "bleed": fmt.bleed, "print": fmt.print, "safe_box": list(fmt.safe_box)},
        "palette": list(palette),
        "underlay": "#{:02x}{:02x}{:02x}".format(*underlay),
        "fonts": {"pairing": pairing.name, "title": pairing.title.name,
                  "body": pairing.body.name, "body_bold": pairing.body_bold.name},
        "regions": {k: list(v) for k, v in work.regions.items()},
        "elements": elements,
        "warnings": warnings,
        "provenance": dict(spec.provenance),
    }
    return Flyer(image=canvas, manifest=manifest, layout=lay.name, format=fmt.name)
