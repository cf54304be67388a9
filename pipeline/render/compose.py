"""compose(background, spec, layout, fmt) -> Flyer: the whole flyer, pure and deterministic.

Order of work: see the picture (``see.analyse``, unless the caller passes the ``subject`` it
stored), then rank crops and layouts together (``autolayout.rank_layouts``: for ``auto`` every
layout, else the named one, each with focal crops, scored on how much of the subject, faces
first, anything would cover); start resizing the best crop of the background on other cores,
into the whole canvas or, for a layout whose opaque panel takes a side, into the picture's part
of it; meanwhile fit every text block (``fitting.py``, words broken by the event's language;
when the text does not fit, ``auto`` takes the next ranked layout where it does, and a named
layout's error says where it would fit; a right-to-left title mirrors the layout), and plan
(``plan.py``) the panels, the colour or scrim that makes every element legible and the logo
plates on a measuring surface taken from the same crop; then ink each strip as it arrives
(text, QR code, logos) and describe it all in the manifest (the subject's boxes, the crop, the
score terms). The pixels never depend on the core count or on which strip finishes first.
"""

from __future__ import annotations

import math
from concurrent.futures import Executor, Future
from typing import Any

import numpy as np
from PIL import Image

from ..errors import RenderError
from ..executor import work_pool
from ..models import Flyer, FlyerSpec, normalise_palette
from .autolayout import Choice, rank_layouts
from .blocks import METRO_LOGO_GAP
from .fitting import Fitted, fit_layout, where_it_fits, with_where_it_fits
from .focal import SrcBox, filled, upscale
from .fonts import get_pairing
from .formats import Format
from .geometry import Box
from .language import resolve_language
from .layouts import LAYOUT_NAMES, TEXT_ROLES, Layout, get_layout, pixel_box
from .legibility import WORK_SIDE, Surface, pixel_luminance
from .logos import fit_into, knock_out, shrink_to_boxes, to_rgba
from .plan import Plan, Work, apply, manifest, plan
from .resample import enlarge, fill_out, start_strips
from .score import alignment, overlap
from .see import analyse
from .subject import FracBox, Subject
from .text import Stamp, clean_text, paragraph_direction

__all__ = ["compose", "prepare_logo"]



PRINT_UPSCALE_WARN = 2.0
"""Enlarging the picture more than this for print earns a warning in the manifest."""


def _start_cover_fit(pool: Executor, img: Image.Image, box: SrcBox, size: tuple[int, int]
                     ) -> list[tuple[int, Future[Image.Image]]]:
    # Enlarging (the usual case: a 512-px painting on a 1080-px or print canvas), bicubic
    # looks the same as Lanczos (-0.5 dB PSNR on a detailed photo, no visible difference),
    # and OpenCV's is 7x faster than Pillow's (resample.enlarge); shrinking keeps Pillow's
    # Lanczos, which is sharper there, in strips on the pool.
    if filled(box, img.size):  # beyond the picture, to keep its subject whole (focal)
        return [(0, pool.submit(fill_out, img, size, box))]
    if size[0] > box[2] - box[0]:
        return [(0, pool.submit(enlarge, img, size, box))]
    return start_strips(pool, img, size, Image.Resampling.LANCZOS, box)


def _assemble(strips: list[tuple[int, Future[Image.Image]]], fmt: Format,
              decided: Plan | None, picture: Box, fill: tuple[int, int, int]) -> Image.Image:
    """The canvas from its strips, each inked (``decided``) as soon as it is resized while
    the others still are; the same pixels as inking the whole canvas at once. A picture that
    fills only part of the canvas is pasted on ``fill`` first and inked whole."""
    if picture != (0, 0, fmt.width, fmt.height):
        canvas = Image.new("RGB", (fmt.width, fmt.height), fill)
        for top, job in strips:
            canvas.paste(job.result(), (picture[0], picture[1] + top))
        if decided is not None:
            apply(canvas, decided)
        return canvas
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


def _surface(img: Image.Image, crop: SrcBox, picture: Box, fmt: Format
             ) -> tuple[Surface, tuple[int, int, int]]:
    """The measuring surface of the canvas, straight from the source crop, and the colour
    around a picture that fills only part of the canvas (its mean: panels cover it)."""
    size = (fmt.width, fmt.height)
    beyond = filled(crop, img.size) > 0
    if picture == (0, 0, fmt.width, fmt.height) and not beyond:
        return Surface.of_region(img, crop, size), (0, 0, 0)
    factor = max(1, int(max(size) / WORK_SIDE))
    small_size = (-(-size[0] // factor), -(-size[1] // factor))
    scale = small_size[0] / size[0]
    if picture == (0, 0, fmt.width, fmt.height):
        return Surface.of_small(fill_out(img, small_size, crop), scale), (0, 0, 0)
    left, top = round(picture[0] * scale), round(picture[1] * scale)
    pw = max(1, round(picture[2] * scale) - left)
    ph = max(1, round(picture[3] * scale) - top)
    shrink = pw <= crop[2] - crop[0] and ph <= crop[3] - crop[1]
    method = Image.Resampling.BOX if shrink else Image.Resampling.BICUBIC
    part = fill_out(img, (pw, ph), crop) if beyond else img.resize(
        (pw, ph), method, box=crop, reducing_gap=2.0 if shrink else None)
    mean = np.asarray(part, dtype=np.float32).reshape(-1, 3).mean(axis=0)
    fill = (int(mean[0]), int(mean[1]), int(mean[2]))
    small = Image.new("RGB", small_size, fill)
    small.paste(part, (left, top))
    raw = np.asarray(small)
    return Surface(rgb=raw.astype(np.float32), scale=scale, lum=pixel_luminance(raw)), fill


def _content(spec: FlyerSpec) -> dict[str, str]:
    """What the flyer will hold: the text of each filled role, 'qr' (the link), 'logo'."""
    details = spec.details.validated()
    have = {role: getattr(details, role) for role in TEXT_ROLES if getattr(details, role)}
    if details.url:
        have["qr"] = details.url
    if spec.logo is not None:
        have["logo"] = "logo"
    return have


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


def compose(background: Image.Image, spec: FlyerSpec, layout: str, fmt: Format,
            subject: Subject | None = None, avoid: tuple[str, ...] = ()) -> Flyer:
    """Compose one flyer. ``layout`` is a layout name or ``"auto"``; ``subject`` is the
    background's analysis when the caller kept it (``see.analyse(background)`` otherwise);
    ``avoid``: layouts ``auto`` passes over while another one fits (variants of one picture).
    ``auto`` takes the best-ranked layout whose text fits (a text too long for it moves on
    to the next, recorded in the manifest's ``layout_reason.fallback``)."""
    pairing = get_pairing(spec.font_pairing)
    palette = normalise_palette(spec.palette)
    img = _rgb(background)
    seen = subject if subject is not None else analyse(img)
    auto = (layout or "").strip().lower() == "auto"
    names = None if auto else (get_layout(layout).name,)
    # A right-to-left title (Arabic, Hebrew) reads from the right: the layout mirrors.
    mirror = paragraph_direction(spec.details.validated().title) == "rtl"
    ranked = rank_layouts(img, fmt, seen, _content(spec), names, mirror)
    if auto and avoid:
        ranked = [c for c in ranked if c.layout.name not in avoid] + \
            [c for c in ranked if c.layout.name in avoid]
    language = resolve_language(spec.language, _event_texts(spec))
    metro_logo = _metro_logo(spec)
    url = spec.details.validated().url

    def attempt(candidate: Layout) -> Fitted:
        found: list[str] = []
        texts = _texts(spec, candidate, found)
        return fit_layout(candidate, fmt, texts, found, pairing, metro_logo,
                          language.patterns, url, mirror)

    # The background resizes on other cores (OpenCV and Pillow drop the GIL), and the
    # measuring surface is taken from the source there too, while this thread fits and
    # rasterises the text; then colours, scrims and plates are decided on that surface:
    # only the final ink waits for the canvas.
    with work_pool() as pool:  # the process's shared threads (pipeline.executor)
        strips = _start_picture(pool, img, ranked[0])
        measuring = pool.submit(_surface, img, ranked[0].crop, ranked[0].picture, fmt)
        choice, fitted, first_error = _first_that_fits(ranked, attempt)
        if fitted is None:
            assert first_error is not None
            others = [] if auto else [n for n in LAYOUT_NAMES if n not in (names or ())]
            raise with_where_it_fits(first_error, where_it_fits(others, attempt), fmt) \
                from first_error
        reason = dict(choice.reason)
        if choice is not ranked[0]:
            if (choice.crop, choice.picture) != (ranked[0].crop, ranked[0].picture):
                strips = _start_picture(pool, img, choice)
                measuring = pool.submit(_surface, img, choice.crop, choice.picture, fmt)
            reason["fallback"] = {"from": ranked[0].layout.name,
                                  "placement": ranked[0].placement.describe(),
                                  "because": str(first_error)}
        lay, crop, picture = choice.layout, choice.crop, choice.picture
        warnings = list(fitted.warnings)
        logo_job = None
        if spec.logo is not None:  # resized on the pool; its plate is decided in plan
            logo_job = _start_logo(pool, spec.logo, lay, fmt, fitted.logo_region, mirror)
        work = _measure(spec, fitted, fmt, metro_logo, logo_job, mirror)
        enlarged = upscale(crop, (picture[2] - picture[0], picture[3] - picture[1]))
        if fmt.print and enlarged > PRINT_UPSCALE_WARN:
            grow = enlarged / PRINT_UPSCALE_WARN
            warnings.append(
                f"The picture is enlarged {enlarged:.1f}× to fill this print format, so it "
                f"may print soft: for a sharp print use a background of at least "
                f"{math.ceil(img.width * grow)}×{math.ceil(img.height * grow)} px.")
        surface, fill = measuring.result()
        decided = plan(surface, spec, fmt, pairing, palette, work)
        canvas = _assemble(strips, fmt, decided, picture, fill)
        info = manifest(spec, lay, reason, fmt, pairing, palette, work, decided, warnings)
        info["language"] = language.as_dict()
        info["placement"] = choice.placement.describe()
    info["layout_scores"] = choice.scores
    info["subject"] = _subject_record(seen, choice, img.size, enlarged, info)
    return Flyer(image=canvas, manifest=info, layout=lay.name, format=fmt.name)


def _first_that_fits(ranked: list[Choice], attempt: Any
                     ) -> tuple[Choice, Fitted | None, RenderError | None]:
    """The first ranked choice whose text fits, its fitting, and the first error met."""
    first_error: RenderError | None = None
    for choice in ranked:
        try:
            return choice, attempt(choice.layout), first_error
        except RenderError as exc:
            first_error = first_error or exc
    return ranked[0], None, first_error


def _event_texts(spec: FlyerSpec) -> list[str]:
    details = spec.details.validated()
    return [getattr(details, role) for role in TEXT_ROLES]


def _start_picture(pool: Executor, img: Image.Image, choice: Choice
                   ) -> list[tuple[int, Future[Image.Image]]]:
    pic = choice.picture
    return _start_cover_fit(pool, img, choice.crop, (pic[2] - pic[0], pic[3] - pic[1]))


def _subject_record(seen: Subject, choice: Choice, size: tuple[int, int], enlarged: float,
                    info: dict[str, Any]) -> dict[str, Any]:
    """The manifest's ``subject``: the analysis's boxes, the crop, and how much of the
    subject the finished flyer covers (every element and panel, whatever its opacity)."""
    picture, view = choice.picture, choice.view
    w, h = picture[2] - picture[0], picture[3] - picture[1]
    boxes = [e["box"] for e in info["elements"]] + [p["box"] for p in info.get("panels", [])]
    inside: list[FracBox] = []
    for b in boxes:
        box = (max(0.0, (b[0] - picture[0]) / w), max(0.0, (b[1] - picture[1]) / h),
               min(1.0, (b[2] - picture[0]) / w), min(1.0, (b[3] - picture[1]) / h))
        if box[2] > box[0] and box[3] > box[1]:
            inside.append(box)
    elements = [tuple(e["box"]) for e in info["elements"]]
    return seen.describe() | {
        "crop": [round(v, 2) for v in choice.crop],
        "zoom": choice.zoom,
        "picture": list(picture),
        "upscale": round(enlarged, 3),
        "backdrop": round(filled(choice.crop, size), 4),
        "covered": {"faces": round(view.face_share(inside), 4),
                    "salient": round(view.covered(inside), 4)},
        "quality": {"ove": round(overlap(elements), 4),
                    "ali": round(alignment(elements, (info["format"]["width"],
                                                      info["format"]["height"])), 4)},
    }


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
