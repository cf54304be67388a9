"""Fit a layout block: shrink its roles together until the stack fits the region, then place
each line of text (and the metro logo) at whole-pixel positions. Pure measurement: no drawing.

The title always stays clearly the largest text: every other role is capped at the title's
size divided by ``TITLE_RATIO`` (and the details below the subtitle at ``DETAIL_RATIO`` of it),
lowering that role's own minimum when it must, so a title squeezed by a long word shrinks the
subtitle with it instead of ending up barely bigger than it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from PIL import Image

from ..errors import RenderError
from ..models import FIELD_LIMITS
from .fonts import Pairing
from .geometry import Box
from .layouts import Block, RoleStyle
from .text import REF_SIZE, FittedText, _ref_width, fit_text, paragraph_direction

__all__ = ["DETAIL_RATIO", "TITLE_RATIO", "PlacedText", "fit_block", "metro_logo_size",
           "role_cap"]

TITLE_RATIO = 1.5
"""The title's size over any other role's, at least (in pixels of font size)."""
DETAIL_RATIO = 0.62
"""Roles below the subtitle (date, venue...) at most this share of the title's size."""
MIN_PX = 6
METRO_LOGO_HEIGHT = 0.92
METRO_LOGO_GAP = 0.35


@dataclass(frozen=True)
class PlacedText:
    role: str
    text: str
    fitted: FittedText
    box: Box
    align: str
    bold: bool
    metro_logo_box: Box | None = None


def metro_logo_size(logo: Image.Image, size: int) -> tuple[int, int]:
    h = max(1, round(size * METRO_LOGO_HEIGHT))
    w = max(1, round(logo.width * h / max(1, logo.height)))
    return w, h


def role_cap(role: str, title_px: int) -> int:
    """The largest size ``role`` may take beside a title of ``title_px`` pixels."""
    cap = math.floor(title_px / TITLE_RATIO + 1e-9)
    if role != "subtitle":
        cap = min(cap, round(title_px * DETAIL_RATIO))
    return max(MIN_PX, cap)


def _too_long(role: str, text: str, width: int, style: RoleStyle, min_px: int,
              pairing: Pairing, layout_name: str, fmt_name: str) -> RenderError:
    face = pairing.face(style.font)
    avg = _ref_width(text.replace("\n", " "), face.path, paragraph_direction(text))
    avg = avg / max(1, len(text)) * min_px / REF_SIZE
    fits = max(1, int(width / max(avg, 1.0) * style.max_lines * 0.9))
    label = FIELD_LIMITS.get(role, (role.title(), 0))[0]
    return RenderError(
        f"The {label.lower()} is too long for the {layout_name} layout in {fmt_name}: shorten "
        f"it to about {fits} characters.", field=role)


def fit_block(block: Block, region: Box, texts: dict[str, str], styles: dict[str, RoleStyle],
              pairing: Pairing, short_side: int, metro_logo: Image.Image | None,
              layout_name: str, fmt_name: str, hyphenation: str | None = None,
              title_px: int | None = None) -> list[PlacedText]:
    """Fit and place the block's non-empty roles inside ``region`` (raises RenderError).
    ``hyphenation``: pyphen's patterns for words too wide for a line; ``title_px``: the
    title's size when it sits in another block (caps this block's roles)."""
    roles = [r for r in block.roles if texts.get(r)]
    if not roles:
        return []
    width, height = region[2] - region[0], region[3] - region[1]

    def fit_all(scale: float, strict: bool) -> list[FittedText] | None:
        out: list[FittedText] = []
        title_size: int | None = title_px
        for role in roles:
            style = styles[role]
            text = texts[role].upper() if style.upper else texts[role]
            min_px = max(MIN_PX, round(style.min_size * short_side))
            max_px = max(min_px, round(style.max_size * short_side * scale))
            if title_size is not None and role != "title":
                cap = role_cap(role, title_size)
                min_px = min(min_px, cap)
                max_px = max(min_px, min(max_px, cap))
            room = width
            if role == "metro" and metro_logo is not None:
                logo_w, _ = metro_logo_size(metro_logo, max_px)
                room = width - logo_w - round(max_px * METRO_LOGO_GAP)
            fitted = fit_text(text, pairing.face(style.font), room, style.max_lines, max_px,
                              min_px, style.leading, hyphenation)
            if fitted is None:
                if strict:
                    raise _too_long(role, text, room, style, min_px, pairing, layout_name,
                                    fmt_name)
                return None
            if role == "title":
                title_size = fitted.size
            out.append(fitted)
        return out

    def total(fits: list[FittedText]) -> int:
        return sum(f.height + (round(styles[r].gap * f.size) if i else 0)
                   for i, (r, f) in enumerate(zip(roles, fits, strict=True)))

    fits = fit_all(1.0, strict=True)
    assert fits is not None
    if total(fits) > height:
        lo, hi = 0.0, 1.0
        best: list[FittedText] | None = None
        for _ in range(8):
            mid = (lo + hi) / 2
            trial = fit_all(mid, strict=False)
            if trial is not None and total(trial) <= height:
                best, lo = trial, mid
            else:
                hi = mid
        if best is None:
            trial = fit_all(0.0, strict=True)
            assert trial is not None
            if total(trial) > height:
                worst = max(range(len(roles)), key=lambda i: trial[i].height)
                role = roles[worst]
                raise _too_long(role, texts[role], width, styles[role],
                                max(MIN_PX, round(styles[role].min_size * short_side)), pairing,
                                layout_name, fmt_name)
            best = trial
        fits = best
    return _place(block, region, roles, fits, texts, styles, metro_logo, total(fits))


def _place(block: Block, region: Box, roles: list[str], fits: list[FittedText],
           texts: dict[str, str], styles: dict[str, RoleStyle], metro_logo: Image.Image | None,
           stack_h: int) -> list[PlacedText]:
    left, top, right, bottom = region
    if block.valign == "top":
        y = top
    elif block.valign == "bottom":
        y = bottom - stack_h
    else:
        y = top + (bottom - top - stack_h) // 2
    widths = []
    for role, f in zip(roles, fits, strict=True):
        w = f.width
        if role == "metro" and metro_logo is not None:
            w += metro_logo_size(metro_logo, f.size)[0] + round(f.size * METRO_LOGO_GAP)
        widths.append(w)
    column = max(widths)
    col_left = {"left": left, "right": right - column,
                "center": left + (right - left - column) // 2}[block.align]
    placed: list[PlacedText] = []
    for i, (role, f, w) in enumerate(zip(roles, fits, widths, strict=True)):
        if i:
            y += round(styles[role].gap * f.size)
        align = block.align
        # RTL text right-aligns in a left-aligned column; when the block leads with RTL text
        # (e.g. an Arabic title) the whole column mirrors so it keeps one clean edge.
        if align == "left" and (f.direction == "rtl" or fits[0].direction == "rtl"):
            align = "right"
        if align == "center":
            x = left + (right - left - w) // 2
        elif align == "right":
            x = (col_left + column if block.align == "left" else right) - w
        else:
            x = col_left
        logo_box = None
        if role == "metro" and metro_logo is not None:
            lw, lh = metro_logo_size(metro_logo, f.size)
            centre = y + f.ascent - round(0.36 * f.size)
            ly = max(y, min(centre - lh // 2, y + f.height - lh))
            lx = x if f.direction == "ltr" else x + w - lw
            logo_box = (lx, ly, lx + lw, ly + lh)
        placed.append(PlacedText(role, texts[role], f, (x, y, x + w, y + f.height), align,
                                 styles[role].font != "body", logo_box))
        y += f.height
    return placed
