"""Output formats: social sizes, print sizes with bleed and safe area, and custom WxH.

A format also carries, as data, the *zones* an app paints its own interface over (profile row,
reply box): text, the QR code and logos stay out of them, so ``safe_box`` excludes them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import InvalidRequest

__all__ = ["FORMATS", "STORY_ZONES", "Format", "Zone", "get_format", "list_formats"]

MM_PER_INCH = 25.4
PRINT_DPI = 300
MIN_SIDE = 256
MAX_SIDE = 4096
MAX_PIXELS = 4096 * 4096


@dataclass(frozen=True)
class Zone:
    """A band along one canvas edge that a platform covers with its interface."""

    edge: str
    """'top', 'bottom', 'left' or 'right'."""
    size: int
    """Depth of the band from that edge, in px."""
    why: str

    def box(self, width: int, height: int) -> tuple[int, int, int, int]:
        """The band as (left, top, right, bottom) on a ``width`` × ``height`` canvas."""
        return {
            "top": (0, 0, width, self.size),
            "bottom": (0, height - self.size, width, height),
            "left": (0, 0, self.size, height),
            "right": (width - self.size, 0, width, height),
        }[self.edge]


# Where the platforms' own interface covers a 1080×1920 story (Instagram, Facebook and TikTok
# stories share the canvas). Source: Meta Business Help Center, story ads design guidance:
# "leave roughly 14% (250 pixels) at the top and bottom of the image free from text and
# logos" (profile photo and name on top; reply box / call to action at the bottom). TikTok
# documents its overlays as downloadable safe-zone templates rather than figures; its right-hand
# button column and longer caption vary by app version and are not modelled here. Instagram
# feed posts (4:5, 1:1), the Facebook event cover and X posts have no documented overlay: the
# safe margin below is all they get.
STORY_ZONES = (
    Zone("top", 250, "profile photo, name and progress bar (Meta: top 14%, 250 px)"),
    Zone("bottom", 250, "reply box and call to action (Meta: bottom 14%, 250 px)"),
)


@dataclass(frozen=True)
class Format:
    """A canvas. For print formats ``width``/``height`` include the bleed on every side."""

    name: str
    label: str
    width: int
    height: int
    dpi: int = 72
    bleed: int = 0
    """Pixels of bleed on each side (print only)."""
    safe: int = 0
    """Pixels from the canvas edge that text and logos must stay inside."""
    print: bool = False
    zones: tuple[Zone, ...] = ()
    """Bands the platform's interface covers; no text, QR code or logo goes in them."""

    @property
    def trim_box(self) -> tuple[int, int, int, int]:
        b = self.bleed
        return (b, b, self.width - b, self.height - b)

    @property
    def safe_box(self) -> tuple[int, int, int, int]:
        """Where text, the QR code and logos may go: inside the safe margin and clear of every
        platform zone (layout regions are fractions of this box)."""
        s = self.safe
        left, top, right, bottom = s, s, self.width - s, self.height - s
        for zone in self.zones:
            if zone.edge == "top":
                top = max(top, zone.size)
            elif zone.edge == "bottom":
                bottom = min(bottom, self.height - zone.size)
            elif zone.edge == "left":
                left = max(left, zone.size)
            else:
                right = min(right, self.width - zone.size)
        return (left, top, right, bottom)

    @property
    def zone_boxes(self) -> list[tuple[int, int, int, int]]:
        """The platform zones as canvas boxes."""
        return [z.box(self.width, self.height) for z in self.zones]

    @property
    def orientation(self) -> str:
        ratio = self.width / self.height
        if ratio > 1.15:
            return "landscape"
        if ratio < 0.87:
            return "portrait"
        return "square"


def _social(name: str, label: str, w: int, h: int, zones: tuple[Zone, ...] = ()) -> Format:
    margin = round(min(w, h) * 0.055)
    return Format(name=name, label=label, width=w, height=h, safe=margin, zones=zones)


def _print(name: str, label: str, w_mm: float, h_mm: float, bleed_mm: float) -> Format:
    px = PRINT_DPI / MM_PER_INCH
    bleed = round(bleed_mm * px)
    w = round(w_mm * px) + 2 * bleed
    h = round(h_mm * px) + 2 * bleed
    # safe area: bleed plus 5 mm inside the trim, at least 5.5% of the short side
    safe = bleed + max(round(5 * px), round(min(w, h) * 0.055))
    return Format(
        name=name, label=label, width=w, height=h, dpi=PRINT_DPI, bleed=bleed, safe=safe, print=True
    )


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        _social("instagram_post", "Instagram post 1080×1350", 1080, 1350),
        _social("instagram_square", "Instagram square 1080×1080", 1080, 1080),
        _social("story", "Story 1080×1920", 1080, 1920, STORY_ZONES),
        _social("facebook_event", "Facebook event 1920×1005", 1920, 1005),
        _social("x_post", "X post 1600×900", 1600, 900),
        _print("a4", "A4 print (210×297 mm, 3 mm bleed)", 210, 297, 3),
        _print("a5", "A5 print (148×210 mm, 3 mm bleed)", 148, 210, 3),
        _print("letter", "US Letter print (8.5×11 in, 0.125 in bleed)", 215.9, 279.4, 3.175),
        _print(
            "half_letter", "Half Letter print (5.5×8.5 in, 0.125 in bleed)", 139.7, 215.9, 3.175
        ),
    )
}

_CUSTOM = re.compile(r"^\s*(\d{1,5})\s*[x×X,]\s*(\d{1,5})\s*$")


def get_format(name: str) -> Format:
    """A named format, or a custom ``WxH`` (e.g. ``1200x628``) within sane bounds."""
    key = (name or "").strip().lower()
    if key in FORMATS:
        return FORMATS[key]
    match = _CUSTOM.match(key)
    if not match:
        raise InvalidRequest(
            f"Unknown format {name!r}; use one of {', '.join(FORMATS)} or a size like 1200x628.",
            field="format",
        )
    w, h = int(match.group(1)), int(match.group(2))
    if not (MIN_SIDE <= w <= MAX_SIDE and MIN_SIDE <= h <= MAX_SIDE):
        raise InvalidRequest(
            f"Custom size {w}×{h} is out of bounds: each side must be {MIN_SIDE}–{MAX_SIDE} px.",
            field="format",
        )
    if max(w, h) / min(w, h) > 4:
        raise InvalidRequest(
            f"Custom size {w}×{h} is too narrow: keep the long side within 4× the short side.",
            field="format",
        )
    return _social(f"{w}x{h}", f"Custom {w}×{h}", w, h)


def list_formats() -> list[dict[str, object]]:
    """Every named format as plain data (for the API's list endpoint)."""
    return [
        {
            "name": f.name,
            "label": f.label,
            "width": f.width,
            "height": f.height,
            "dpi": f.dpi,
            "bleed_px": f.bleed,
            "print": f.print,
            "zones": [{"edge": z.edge, "px": z.size, "why": z.why} for z in f.zones],
        }
        for f in FORMATS.values()
    ]
