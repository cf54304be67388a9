"""Where a block's text will probably sit, without fitting it.

Fitting every layout's text to score ``auto`` would cost ~50 ms per layout for new words; this
estimate mirrors ``blocks.fit_block`` (all roles shrink together until the stack fits, details
capped relative to the title, then placed by the block's alignment) with an average glyph width
instead of shaped text: microseconds per block, close enough to rank layouts by how much of the
subject their text covers. The block's whole region remains the upper bound (``score`` keeps
faces clear of that).
"""

from __future__ import annotations

import functools
import math

from .geometry import Box
from .layouts import Block, RoleStyle

__all__ = ["estimate_block", "estimate_fit"]

GLYPH = 0.5
"""Average advance of a glyph, in em (bold and upper case a little wider)."""
_DETAIL_CAP = {"subtitle": 0.78}
_DETAIL_RATIO = 0.62
_STEPS = 12


def _glyph(style: RoleStyle) -> float:
    return GLYPH * (1.2 if style.upper else 1.0) * (1.06 if style.font != "body" else 1.0)


def _stack(roles: list[str], texts: dict[str, str], styles: dict[str, RoleStyle], width: int,
           short: int, scale: float) -> tuple[float, float]:
    """(height, widest line) of the block's stack at ``scale`` of the largest sizes."""
    height, widest = 0.0, 0.0
    title: float | None = None
    for i, role in enumerate(roles):
        style = styles[role]
        low = max(6.0, style.min_size * short)
        size = max(low, style.max_size * short * scale)
        if title is not None:
            size = max(low, min(size, title * _DETAIL_CAP.get(role, _DETAIL_RATIO)))
        if role == "title":
            title = size
        paragraphs = texts[role].split("\n")
        lines = 0
        line_w = 0.0
        for para in paragraphs:
            run = max(1, len(para)) * _glyph(style) * size
            lines += max(1, math.ceil(run / max(1, width)))
            line_w = max(line_w, min(float(width), run))
        lines = min(lines, style.max_lines)
        height += lines * size * style.leading + (style.gap * size if i else 0.0)
        widest = max(widest, line_w)
    return height, widest


@functools.lru_cache(maxsize=512)
def _fit(setting: tuple[tuple[str, str, RoleStyle], ...], width: int, room: int, short: int
         ) -> tuple[int, int, float]:
    """(height, width, scale) of a stack of (role, text, style) in a ``width`` × ``room``
    region: ranking sizes each block in several placements and layouts (``auto`` on a post:
    25 estimates, 11 of them different sizes), so the answers are remembered."""
    roles = [role for role, _, _ in setting]
    texts = {role: text for role, text, _ in setting}
    styles = {role: style for role, _, style in setting}
    scale = 1.0
    height, widest = _stack(roles, texts, styles, width, short, scale)
    for step in range(1, _STEPS + 1):
        if height <= room:
            break
        scale = 1.0 - step / _STEPS
        height, widest = _stack(roles, texts, styles, width, short, scale)
    return min(room, round(height)), min(width, round(widest)), scale


def estimate_fit(block: Block, region: Box, texts: dict[str, str],
                 styles: dict[str, RoleStyle], short: int) -> tuple[Box, float] | None:
    """The estimated box of the block's text inside ``region`` and the scale of its largest
    sizes it needed to fit (1: full size; less in a smaller region or a narrower column);
    None: nothing to set."""
    setting = tuple((r, texts[r], styles[r]) for r in block.roles if texts.get(r))
    if not setting:
        return None
    left, top, right, bottom = region
    width, room = right - left, bottom - top
    h, w, scale = _fit(setting, width, room, short)
    y = {"top": top, "bottom": bottom - h, "center": top + (room - h) // 2}[block.valign]
    x = {"left": left, "right": right - w, "center": left + (width - w) // 2}[block.align]
    return (x, y, x + w, y + h), scale


def estimate_block(block: Block, region: Box, texts: dict[str, str],
                   styles: dict[str, RoleStyle], short: int) -> Box | None:
    """The estimated box of the block's text inside ``region`` (None: nothing to set)."""
    found = estimate_fit(block, region, texts, styles, short)
    return None if found is None else found[0]
