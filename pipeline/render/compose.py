"""compose(background, spec, layout, fmt) -> Flyer: the whole flyer, pure and deterministic.

Order of work: start cover-fitting the background to the full canvas (bleed included) in
strips on other cores; meanwhile pick the layout (``auto``: calmest text regions of the source
region), fit every text block (``fitting.py``; when the text does not fit, ``auto`` takes the
next calmest layout where it does, and a named layout's error says where it would fit), and
plan (``plan.py``) the panels, the colour or scrim that makes every element legible and the
logo plates on a measuring surface taken from the same source region; then ink each strip as
it arrives (text, QR code, logos) and describe it all in the manifest. The pixels never depend
on the core count or on which strip finishes first. Words break by the event's language
(``spec.language``: a code, or ``auto`` to detect it from the texts).
"""

from __future__ import annotations

from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any

from PIL import Image

from ..errors import RenderError
from ..models import Flyer, FlyerSpec, normalise_palette
from .autolayout import choose_layout
from .blocks import METRO_LOGO_GAP
from .fitting import Fitted, first_fit, fit_layout, where_it_fits, with_where_it_fits
from .fonts import Pairing, get_pairing
from .formats import Format
from .language import Language, resolve_language
from .layouts import LAYOUT_NAMES, TEXT_ROLES, Layout, get_layout, pixel_box
from .legibility import Surface
from .logos import fit_into, knock_out, shrink_to_boxes, to_rgba
from .plan import Plan, Work, apply, manifest, plan
from .resample import start_strips, workers
from .text import Stamp, clean_text, paragraph_direction

__all__ = ["compose", "prepare_logo"]

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


def _start_cover_fit(pool: Executor, img: Image.Image, box: tuple[float, float, float, float],
                     fmt: Format) -> list[tuple[int, Future[Image.Image]]]:
    # Enlarging (the usual case: a 512-px painting on a 1080-px or print canvas), bicubic
    # looks the same as Lanczos (-0.5 dB PSNR on a detailed photo, no visible difference)
    # at 60% of the cost; shrinking keeps Lanczos, which is sharper there.
    upscale = fmt.width > box[2] - box[0]
    method = Image.Resampling.BICUBIC if upscale else Image.Resampling.LANCZOS
    return start_strips(pool, img, (fmt.width, fmt.height), method, box)


def _assemble(strips: list[tuple[int, Future[Image.Image]]], fmt: Format,
              decided: Plan | None) -> Image.Image:
    """The canvas from its strips, each inked (``decided``) as soon as it is resized while
    the others still are; the same pixels as inking the whole canvas at once."""
    if len(strips) == 1:
        canvas = strips[0][1].result()
        if decided is not None:
            apply(canvas, decided)
        return canvas
    canvas = Image.new("RGB", (fmt.width, fmt.height))
    for top, job in strips:
        strip = job.result()
        if decided is not None:
            apply(strip, decided, top)
        canvas.paste(strip, (0, top))
    return canvas


def _rgb(background: Image.Image) -> Image.Image:
    return background.convert("RGB") if background.mode != "RGB" else background


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


def compose(background: Image.Image, spec: FlyerSpec, layout: str, fmt: Format) -> Flyer:
    """Compose one flyer. ``layout`` is a layout name or ``"auto"``."""
    warnings: list[str] = []
    pairing = get_pairing(spec.font_pairing)
    palette = normalise_palette(spec.palette)
    # The background resizes on other cores (Pillow drops the GIL) while this thread fits
    # and rasterises the text and decides colours, scrims and plates on a measuring surface
    # taken from the source: only the final ink waits for the canvas.
    img = _rgb(background)
    box = _cover_box(img, fmt)
    auto = (layout or "").strip().lower() == "auto"
    if auto:
        lay, reason = choose_layout(img, fmt, box)
    else:
        lay = get_layout(layout)
        reason = {"mode": "fixed", "chosen": lay.name, "why": "requested by name"}
    language = resolve_language(spec.language, _event_texts(spec))
    # A right-to-left title (Arabic, Hebrew) reads from the right: the layout mirrors.
    mirror = paragraph_direction(spec.details.validated().title) == "rtl"
    with ThreadPoolExecutor(max_workers=workers()) as pool:
        logo_job = None
        logo_region = pixel_box(lay.variant(fmt, mirror).logo.box, fmt.safe_box)
        if spec.logo is not None:  # the logo first: its plate is decided early
            logo_job = _start_logo(pool, spec.logo, lay, fmt, logo_region, mirror)
        strips = _start_cover_fit(pool, img, box, fmt)
        metro_logo = _metro_logo(spec)
        fitted, reason = _fit(spec, lay, reason, auto, fmt, pairing, language, metro_logo,
                              mirror)
        if spec.logo is not None and (fitted.layout.name != lay.name
                                      or fitted.logo_region != logo_region):
            logo_job = _start_logo(pool, spec.logo, fitted.layout, fmt, fitted.logo_region,
                                   mirror)
        lay = fitted.layout
        warnings.extend(fitted.warnings)
        work = _measure(spec, fitted, fmt, metro_logo, logo_job, mirror)
        surface = Surface.of_region(img, box, (fmt.width, fmt.height))
        decided = plan(surface, spec, fmt, pairing, palette, work)
        canvas = _assemble(strips, fmt, decided)
        info = manifest(spec, lay, reason, fmt, pairing, palette, work, decided, warnings)
        info["language"] = language.as_dict()
    return Flyer(image=canvas, manifest=info, layout=lay.name, format=fmt.name)


def _event_texts(spec: FlyerSpec) -> list[str]:
    details = spec.details.validated()
    return [getattr(details, role) for role in TEXT_ROLES]


def _fit(spec: FlyerSpec, lay: Layout, reason: dict[str, Any], auto: bool, fmt: Format,
         pairing: Pairing, language: Language, metro_logo: Image.Image | None,
         mirror: bool = False) -> tuple[Fitted, dict[str, Any]]:
    """``lay`` fitted; else (``auto``) the calmest other layout where the text fits, or (a
    named layout) an error that says in which layouts it would fit."""
    url = spec.details.validated().url

    def attempt(candidate: Layout) -> Fitted:
        warnings: list[str] = []
        texts = _texts(spec, candidate, warnings)
        return fit_layout(candidate, fmt, texts, warnings, pairing, metro_logo,
                          language.patterns, url, mirror)

    scores = reason.get("calm_scores")
    order = sorted(scores, key=lambda n: (scores[n], n)) if isinstance(scores, dict) \
        else list(LAYOUT_NAMES)
    if not auto:
        try:
            return attempt(lay), reason
        except RenderError as exc:
            others = [n for n in LAYOUT_NAMES if n != lay.name]
            raise with_where_it_fits(exc, where_it_fits(others, attempt), fmt) from exc
    try:
        fitted, error = first_fit(lay, order, attempt)
    except RenderError as exc:
        raise with_where_it_fits(exc, [], fmt) from exc
    if error is not None:
        reason = {**reason, "chosen": fitted.layout.name,
                  "fallback": {"from": lay.name, "because": str(error)}}
    return fitted, reason


def _metro_logo(spec: FlyerSpec) -> Image.Image | None:
    """The metro logo, or a 1-px stand-in reserving the square of a drawn roundel."""
    if spec.metro_logo is not None:
        return knock_out(to_rgba(spec.metro_logo))
    return Image.new("L", (1, 1)) if spec.details.validated().metro else None


def prepare_logo(logo: Image.Image, fmt: Format) -> Image.Image:
    """The organiser logo downsized once to the largest size any layout shows it at in
    ``fmt``. Callers composing several flyers from one upload (a batch, re-renders) do this
    once and then resize a small image per flyer instead of the whole upload."""
    boxes = [pixel_box(get_layout(n).variant(fmt).logo.box, fmt.safe_box) for n in LAYOUT_NAMES]
    return shrink_to_boxes(logo, boxes)


def _prepare_logo(logo: Image.Image, region: Box, align: str, valign: str
                  ) -> tuple[Image.Image, Image.Image, Box]:
    """The organiser logo fitted into its region (resized on the pool), a flat white or
    black background knocked out."""
    fitted, box = fit_into(logo, region, align, valign)
    return logo, knock_out(fitted), box


def _start_logo(pool: Executor, logo: Image.Image, lay: Layout, fmt: Format, region: Box,
                mirror: bool = False) -> Future[tuple[Image.Image, Image.Image, Box]]:
    """Resize the organiser logo on the pool (Pillow drops the GIL while resampling)."""
    place = lay.variant(fmt, mirror).logo
    return pool.submit(_prepare_logo, to_rgba(logo), region, place.align, place.valign)


def _measure(spec: FlyerSpec, fitted: Fitted, fmt: Format, metro_logo: Image.Image | None,
             logo_job: Future[tuple[Image.Image, Image.Image, Box]] | None,
             mirror: bool = False) -> Work:
    """Rasterise the fitted text and gather what ``plan`` needs."""
    variant = fitted.layout.variant(fmt, mirror)
    roundel = spec.metro_logo is None and bool(fitted.texts.get("metro"))
    stamps: dict[str, tuple[Stamp, ...]] = {}
    for items in fitted.placed.values():
        for item in items:
            x = item.box[0]
            if item.metro_logo_box is not None and item.fitted.direction == "ltr":
                x += (item.metro_logo_box[2] - item.metro_logo_box[0]
                      + round(item.fitted.size * METRO_LOGO_GAP))
            stamps[item.role] = item.fitted.stamps(x, item.box[1], item.fitted.width,
                                                   item.align)
    qr = (fitted.qr.image, fitted.qr.box) if fitted.qr is not None else None
    if spec.metro_logo is None and not roundel:
        metro_logo = None
    return Work(variant, fitted.texts, fitted.pad, metro_logo, roundel, fitted.placed,
                fitted.regions, stamps, qr, logo_job, mirror)
