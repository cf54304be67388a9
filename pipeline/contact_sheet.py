"""A contact sheet: every flyer of a run as a thumbnail on one JPEG, in spreadsheet order.

Each event gets one line segment of ``variants`` cells labelled with its row number; a row that
could not be made gets one grey cell saying so, so the sheet reads like the spreadsheet.
Labels are row and variant numbers only: the flyers themselves show the titles, in whatever
script they are written.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

__all__ = ["SheetCell", "contact_sheet", "thumbnail_jpeg"]

MAX_WIDTH = 2400
"""Widest sheet drawn, in pixels."""
_MIN_THUMB, _MAX_THUMB = 120, 360
_GAP, _MARGIN, _LABEL, _HEADER = 12, 24, 26, 56
_BACKGROUND = (243, 244, 246)
_INK = (31, 41, 55)
_MUTED = (107, 114, 128)
_PROBLEM_FILL = (229, 231, 235)
_PROBLEM_INK = (185, 28, 28)
_FONT = Path(__file__).parent / "render" / "fonts" / "Inter-SemiBold.otf"


@dataclass(frozen=True)
class SheetCell:
    """One event on the sheet: its row number and its flyers' thumbnails (JPEG bytes); none
    when the row could not be made."""

    row: int
    thumbnails: tuple[bytes, ...] = ()


@lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.truetype(str(_FONT), size)
    except OSError:  # a packaging mistake must not cost the whole run
        return ImageFont.load_default()


def thumbnail_jpeg(image: Image.Image, width: int = _MAX_THUMB) -> bytes:
    """A small JPEG of ``image`` at most ``width`` px wide, for the sheet (box-reduced by a
    whole factor first: a third of the time of a plain resize)."""
    small = image.convert("RGB")
    factor = small.width // width
    if factor > 1:
        small = small.reduce(factor)
    if small.width > width:
        height = max(1, round(small.height * width / small.width))
        small = small.resize((width, height), Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    small.save(buffer, "JPEG", quality=82)
    return buffer.getvalue()


def _layout(events: int, variants: int) -> tuple[int, int]:
    """(events per line, thumbnail width)."""
    per_line = max(1, math.ceil(math.sqrt(events / max(1, variants) * 1.4)))
    per_line = min(per_line, events)
    cells = per_line * variants
    width = (MAX_WIDTH - 2 * _MARGIN - (cells - 1) * _GAP) // cells
    while width < _MIN_THUMB and per_line > 1:
        per_line -= 1
        cells = per_line * variants
        width = (MAX_WIDTH - 2 * _MARGIN - (cells - 1) * _GAP) // cells
    return per_line, max(_MIN_THUMB // 2, min(_MAX_THUMB, width))


def contact_sheet(cells: Sequence[SheetCell], variants: int, aspect: float, title: str) -> bytes:
    """The sheet as JPEG bytes. ``aspect`` is the flyers' width / height; ``title`` goes in the
    header line."""
    if not cells:
        raise ValueError("a contact sheet needs at least one event")
    variants = max(1, variants)
    per_line, thumb_w = _layout(len(cells), variants)
    thumb_h = max(1, round(thumb_w / aspect))
    lines = math.ceil(len(cells) / per_line)
    cell_w, cell_h = thumb_w + _GAP, thumb_h + _LABEL + _GAP
    width = 2 * _MARGIN + per_line * variants * cell_w - _GAP
    height = _HEADER + _MARGIN + lines * cell_h
    sheet = Image.new("RGB", (width, height), _BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    draw.text((_MARGIN, _MARGIN // 2 + 4), title, font=_font(24), fill=_INK)
    label = _font(15)
    for index, cell in enumerate(cells):
        line, slot = divmod(index, per_line)
        top = _HEADER + line * cell_h
        for variant in range(variants if cell.thumbnails else 1):
            left = _MARGIN + (slot * variants + variant) * cell_w
            box = (left, top, left + thumb_w, top + thumb_h)
            if cell.thumbnails:
                _paste(sheet, cell.thumbnails[variant] if variant < len(cell.thumbnails)
                       else None, box)
                text = f"Row {cell.row}" + (f" · {variant + 1}" if variants > 1 else "")
                draw.text((left, top + thumb_h + 5), text, font=label, fill=_MUTED)
            else:
                draw.rectangle(box, fill=_PROBLEM_FILL)
                draw.text((left + thumb_w / 2, top + thumb_h / 2), "not made", font=label,
                          fill=_PROBLEM_INK, anchor="mm")
                draw.text((left, top + thumb_h + 5), f"Row {cell.row} · see the report",
                          font=label, fill=_PROBLEM_INK)
    buffer = io.BytesIO()
    sheet.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def _paste(sheet: Image.Image, thumbnail: bytes | None, box: tuple[int, int, int, int]) -> None:
    if thumbnail is None:
        return
    with Image.open(io.BytesIO(thumbnail)) as image:
        fitted = image.convert("RGB").resize((box[2] - box[0], box[3] - box[1]),
                                             Image.Resampling.BILINEAR)
    sheet.paste(fitted, box[:2])
