"""Typed requests and results shared by the pipeline and the studio."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, fields, replace
from typing import Any

from PIL import Image

from .errors import InvalidRequest

__all__ = [
    "FIELD_LIMITS",
    "EventDetails",
    "Flyer",
    "FlyerRequest",
    "FlyerSpec",
    "normalise_palette",
]

# field -> (label shown to users, most characters allowed)
FIELD_LIMITS: dict[str, tuple[str, int]] = {
    "title": ("Title", 120),
    "subtitle": ("Subtitle", 200),
    "date": ("Date", 80),
    "time": ("Time", 80),
    "venue": ("Venue", 160),
    "metro": ("Metro station", 80),
    "description": ("Description", 600),
    "url": ("Link", 500),
    "organiser": ("Organiser", 120),
}

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_HEX = re.compile(r"^#?([0-9a-fA-F]{6}|[0-9a-fA-F]{3})$")


@dataclass(frozen=True)
class EventDetails:
    """What the flyer says. Only the title is required."""

    title: str
    subtitle: str = ""
    date: str = ""
    time: str = ""
    venue: str = ""
    metro: str = ""
    description: str = ""
    url: str = ""
    organiser: str = ""

    def validated(self) -> EventDetails:
        """Return a cleaned copy (NFC, trimmed, unified newlines) or raise InvalidRequest
        naming the field: empty title, over-long field, control characters, bad link."""
        cleaned: dict[str, str] = {}
        for f in fields(self):
            label, limit = FIELD_LIMITS[f.name]
            raw = getattr(self, f.name)
            if raw is None:
                raw = ""
            if not isinstance(raw, str):
                raise InvalidRequest(f"{label} must be text.", field=f.name)
            text = unicodedata.normalize("NFC", raw.replace("\r\n", "\n").replace("\r", "\n"))
            text = "\n".join(line.strip() for line in text.strip().split("\n"))
            if f.name != "description" and "\n" in text:
                text = " ".join(part for part in text.split("\n") if part)
            if _CONTROL.search(text) or "\t" in text:
                raise InvalidRequest(
                    f"{label} contains control characters; remove them and try again.",
                    field=f.name,
                )
            if len(text) > limit:
                raise InvalidRequest(
                    f"{label} is {len(text)} characters long; the limit is {limit}.",
                    field=f.name,
                )
            cleaned[f.name] = text
        if not cleaned["title"]:
            raise InvalidRequest("Title is required: give the event a name.", field="title")
        url = cleaned["url"]
        if url and (" " in url or "." not in url):
            raise InvalidRequest(
                f"Link {url!r} does not look like a web address (e.g. https://example.org).",
                field="url",
            )
        return replace(self, **cleaned)


def normalise_palette(colours: object) -> tuple[str, ...]:
    """Accept '#abc,#123456', a list of hex strings or None; return up to 3 '#rrggbb'."""
    if colours is None or colours == "":
        return ()
    items: list[str]
    if isinstance(colours, str):
        items = [c for c in re.split(r"[\s,;]+", colours) if c]
    elif isinstance(colours, (list, tuple)):
        items = [str(c).strip() for c in colours if c is not None and str(c).strip()]
    else:
        raise InvalidRequest("Brand colours must be hex codes like #1a2b3c.", field="palette")
    if len(items) > 3:
        raise InvalidRequest(
            f"Give at most 3 brand colours, not {len(items)}.", field="palette"
        )
    out: list[str] = []
    for item in items:
        match = _HEX.match(item)
        if not match:
            raise InvalidRequest(
                f"Brand colour {item!r} is not a hex code like #1a2b3c.", field="palette"
            )
        digits = match.group(1)
        if len(digits) == 3:
            digits = "".join(ch * 2 for ch in digits)
        out.append("#" + digits.lower())
    return tuple(out)


@dataclass(frozen=True)
class FlyerRequest:
    """One generation: the event, the prompt and the look. Built by the studio, validated by
    the service."""

    details: EventDetails
    prompt: str = ""
    negative_prompt: str = ""
    """Empty means the configured default negative prompt."""
    seed: int = -1
    """-1: random. Variant i uses seed + i."""
    batch_size: int = 1
    layout: str = "auto"
    format: str = "instagram_post"
    palette: tuple[str, ...] = ()
    font_pairing: str = "default"
    logo: bytes | None = None
    """The organiser's logo as an uploaded file's bytes."""
    background: bytes | None = None
    """The user's own background (file bytes) instead of a generated one."""


@dataclass(frozen=True)
class FlyerSpec:
    """Everything ``compose`` needs besides the background, the layout and the format."""

    details: EventDetails
    palette: tuple[str, ...] = ()
    font_pairing: str = "default"
    logo: Image.Image | None = None
    metro_logo: Image.Image | None = None
    provenance: dict[str, Any] = field(default_factory=dict)
    """Prompt, seed, backend, model... copied into the manifest as-is."""
    language: str = "auto"
    """The event's language for line breaking (``de``, ``en_GB``...), ``none`` for no
    hyphenation, or ``auto``: detected from the texts (FLYER_LANGUAGE)."""


@dataclass(frozen=True)
class Flyer:
    """A composed flyer: pixels plus the manifest that explains (and reproduces) them."""

    image: Image.Image
    """RGB, the whole canvas (for print formats: trim plus bleed)."""
    manifest: dict[str, Any]
    layout: str
    format: str
