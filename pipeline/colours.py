"""Colours: the one hex parser and the one meaning of ``RGB``.

``RGB`` is sRGB in whole levels, 0-255 per channel, everywhere in the pipeline. Brand colours
arrive as hex codes (``#1a2b3c``, ``1a2b3c`` or ``#abc``); :func:`parse_hex` reads them (or
raises :class:`InvalidRequest` naming the field) and :func:`hex_colour` writes them back.
"""

from __future__ import annotations

import re

from .errors import InvalidRequest

__all__ = ["RGB", "hex_colour", "parse_hex"]

RGB = tuple[int, int, int]
"""sRGB, 0-255 per channel."""

_HEX = re.compile(r"^#?([0-9a-fA-F]{6}|[0-9a-fA-F]{3})$")


def parse_hex(value: str, field: str = "palette", label: str = "Brand colour") -> RGB:
    """``#rrggbb``, ``rrggbb`` or ``#rgb`` (spaces around ignored) as RGB levels; anything else
    raises InvalidRequest naming ``field``."""
    match = _HEX.match(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise InvalidRequest(f"{label} {value!r} is not a hex code like #1a2b3c.", field=field)
    digits = match.group(1)
    if len(digits) == 3:
        digits = "".join(ch * 2 for ch in digits)
    return (int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16))


def hex_colour(colour: RGB) -> str:
    """``#rrggbb`` (lower case) for RGB levels."""
    return "#{:02x}{:02x}{:02x}".format(*colour)
