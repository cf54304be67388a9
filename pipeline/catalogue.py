"""What the studio offers, as plain data, for every door (UI pickers, the APIs' lists, the
CLI's help, REST's size matching): layouts, formats and font pairings. The doors read these
(or the service's ``list_*``, which return the same) rather than the render package."""

from __future__ import annotations

from typing import Any

from .render.fonts import list_pairings
from .render.formats import FORMATS, list_formats
from .render.layouts import LAYOUT_NAMES, list_layouts

__all__ = [
    "format_for_size",
    "format_names",
    "formats",
    "layout_names",
    "layouts",
    "pairing_names",
    "pairings",
]

_AUTO = {"name": "auto", "label": "Auto (keeps faces and the subject clear)",
         "description": "Every layout, placed as drawn, mirrored or with its text moved to "
                        "another allowed spot, and every crop is scored on how much of the "
                        "picture's subject it would cover, faces first; the best one wins."}


def layouts() -> list[dict[str, Any]]:
    """'auto' first, then every layout: name, label, description."""
    return [dict(_AUTO), *list_layouts()]


def formats() -> list[dict[str, Any]]:
    """Every named format: name, label, size, dpi, bleed, print, safe zones."""
    return list_formats()


def pairings() -> list[dict[str, Any]]:
    """Every font pairing: name, label, title and body family."""
    return list(list_pairings())


def layout_names() -> tuple[str, ...]:
    """The layouts' names ('auto' not included)."""
    return tuple(LAYOUT_NAMES)


def format_names() -> tuple[str, ...]:
    return tuple(FORMATS)


def pairing_names() -> tuple[str, ...]:
    return tuple(p["name"] for p in list_pairings())


def format_for_size(width: int, height: int) -> str:
    """The named format of exactly that size, else the custom ``WxH`` (checked by the
    pipeline: out-of-range sizes are refused naming the format)."""
    for fmt in FORMATS.values():
        if (fmt.width, fmt.height) == (width, height):
            return fmt.name
    return f"{width}x{height}"
