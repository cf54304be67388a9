"""Fit a layout's text: the QR code first (on a small canvas it may need more than its box),
then every block of the variant, the title's block first so the other blocks' roles stay
smaller than the title; and, when a text does not fit, which layouts it does fit.

``fit_layout`` raises :class:`RenderError` naming the field that does not fit; ``first_fit``
walks layouts in order until one fits (``auto``), ``where_it_fits`` lists them all (so an
explicit layout's error can say where the text would fit).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from PIL import Image

from ..errors import RenderError
from .blocks import PlacedText, fit_block
from .fonts import Pairing
from .formats import Format
from .geometry import Box
from .layouts import Layout, get_layout, pixel_box
from .qr import QrPlan, give_way, plan_qr

__all__ = ["Fitted", "first_fit", "fit_layout", "where_it_fits", "with_where_it_fits"]



@dataclass(frozen=True)
class Fitted:
    """A layout's text fitted and placed for one format, with its QR code and logo region."""

    layout: Layout
    texts: dict[str, str]
    warnings: tuple[str, ...]
    pad: int
    placed: dict[str, list[PlacedText]]
    regions: dict[str, Box]
    qr: QrPlan | None
    logo_region: Box


def fit_layout(lay: Layout, fmt: Format, texts: dict[str, str], warnings: Iterable[str],
               pairing: Pairing, metro_logo: Image.Image | None, hyphenation: str | None,
               url: str, mirror: bool = False) -> Fitted:
    """Place ``texts`` (already cleaned for ``lay``'s fonts) and the QR code for ``url``;
    ``mirror`` flips the layout left to right (right-to-left titles)."""
    variant = lay.variant(fmt, mirror)
    safe = fmt.safe_box
    short = min(fmt.width, fmt.height)
    pad = round(0.03 * short)
    qr = None
    if url:
        qr = plan_qr(url, pixel_box(variant.qr.box, safe), variant.qr.align, variant.qr.valign,
                     fmt)
    panel_of = {p.block: p for p in variant.panels if p.block}
    regions: dict[str, Box] = {}
    for block in variant.blocks:
        region = pixel_box(block.box, safe)
        if qr is not None and qr.grown:
            region = give_way(region, qr.box, pad)
        panel = panel_of.get(block.id)
        if panel is not None and panel.style == "card":
            region = (region[0] + pad, region[1] + pad, region[2] - pad, region[3] - pad)
        regions[block.id] = region
    placed: dict[str, list[PlacedText]] = {}
    title_px: int | None = None
    for block in sorted(variant.blocks, key=lambda b: "title" not in b.roles):
        items = fit_block(block, regions[block.id], texts, lay.styles, pairing, short,
                          metro_logo, lay.name, fmt.name, hyphenation, title_px)
        placed[block.id] = items
        title_px = next((i.fitted.size for i in items if i.role == "title"), title_px)
    logo_region = pixel_box(variant.logo.box, safe)
    if qr is not None and qr.grown:
        logo_region = give_way(logo_region, qr.box, pad)
    return Fitted(lay, texts, tuple(warnings), pad, {b.id: placed[b.id] for b in variant.blocks},
                  regions, qr, logo_region)


def first_fit(first: Layout, order: Iterable[str],
              attempt: Callable[[Layout], Fitted]) -> tuple[Fitted, RenderError | None]:
    """``first`` fitted, or else the first layout of ``order`` that fits, with the error that
    ``first`` raised; ``first``'s error when none fits."""
    try:
        return attempt(first), None
    except RenderError as exc:
        error = exc
    for name in order:
        if name == first.name:
            continue
        try:
            return attempt(get_layout(name)), error
        except RenderError:
            continue
    raise error


def where_it_fits(names: Iterable[str], attempt: Callable[[Layout], Fitted]) -> list[str]:
    """The layouts among ``names`` whose ``attempt`` succeeds."""
    found = []
    for name in names:
        try:
            attempt(get_layout(name))
        except RenderError:
            continue
        found.append(name)
    return found


def with_where_it_fits(error: RenderError, fits: list[str], fmt: Format) -> RenderError:
    """``error`` with the layouts it would fit in added (or that none has room)."""
    if fits:
        names = ", ".join(fits[:-1]) + (" or " if len(fits) > 1 else "") + fits[-1]
        where = f"It fits the {names} layout{'s' if len(fits) > 1 else ''} in {fmt.name}."
    else:
        where = f"No layout has room for it in {fmt.name}."
    return RenderError(f"{error} {where}", field=error.field)
