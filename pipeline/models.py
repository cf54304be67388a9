"""Typed requests and results shared by the pipeline and the studio."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, fields, replace
from functools import lru_cache
from typing import Any

from PIL import Image

from .colours import hex_colour, parse_hex
from .errors import InvalidRequest

__all__ = [
    "FIELD_LIMITS",
    "LINK_SCHEMES",
    "EventDetails",
    "Flyer",
    "FlyerRequest",
    "FlyerSpec",
    "check_link",
    "check_text",
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

LINK_SCHEMES = ("http", "https", "mailto", "tel")
"""What a flyer's link (its QR code) may be; a link without a scheme is a web address."""

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_LINE_CONTROL = re.compile(r"[\t\n\r]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_NAMED = {"\t": "a tab", "\n": "a line break", "\r": "a carriage return"}
# Browsers and QR scanners skip ASCII whitespace and controls inside a URL's scheme, so
# "java\tscript:" and " JaVaScRiPt:" are javascript: links; read the scheme the same way.
_URL_IGNORED = re.compile(r"[\x00-\x20\x7f]")
_SCHEME = re.compile(r"^([^/?#]*?):")
_WEB = re.compile(r"^(?:https?://)?[^/?#@]*\.[^/?#]", re.IGNORECASE)
_MAILTO = re.compile(r"^mailto:[^@]+@[^@]+\.[^@]+$", re.IGNORECASE)
_TEL = re.compile(r"^tel:\+?[0-9().\-]*[0-9][0-9().\-]*$", re.IGNORECASE)


def check_text(text: str, field: str, label: str, *, multiline: bool = False) -> None:
    """Raise InvalidRequest naming ``field`` when ``text`` holds a lone surrogate (half of a
    UTF-16 pair: it cannot be stored, encoded or sent back) or a control character. Line breaks
    and tabs are allowed only when ``multiline``. Nothing is removed: the user fixes the text."""
    bad = _SURROGATE.search(text)
    if bad:
        raise InvalidRequest(
            f"{label} contains a broken character (U+{ord(bad.group()):04X}, half of a UTF-16 "
            "surrogate pair); retype the text and try again.",
            field=field,
        )
    bad = _CONTROL.search(text) or (None if multiline else _LINE_CONTROL.search(text))
    if bad:
        char = bad.group()
        what = _NAMED.get(char, f"a control character (U+{ord(char):04X})")
        raise InvalidRequest(f"{label} contains {what}; remove it and try again.", field=field)


def check_link(url: str, field: str = "url", label: str = "Link") -> None:
    """Raise InvalidRequest naming ``field`` unless ``url`` is an http(s), mailto: or tel:
    link, or a web address without a scheme (``example.org/jazz``). ``javascript:``, ``data:``
    and every other scheme are refused however they are spelled."""
    match = _SCHEME.match(_URL_IGNORED.sub("", url))
    scheme = match.group(1).lower() if match else ""
    if match and scheme not in LINK_SCHEMES:
        raise InvalidRequest(
            f"{label}: use an http(s), mailto: or tel: address (e.g. https://example.org).",
            field=field,
        )
    if " " in url:
        raise InvalidRequest(f"{label}: a link cannot contain spaces.", field=field)
    if scheme == "mailto" and not _MAILTO.match(url):
        raise InvalidRequest(
            f"{label}: a mailto: link needs an email address, e.g. mailto:hello@example.org.",
            field=field,
        )
    if scheme == "tel" and not _TEL.match(url):
        raise InvalidRequest(
            f"{label}: a tel: link needs a phone number, e.g. tel:+33123456789.", field=field
        )
    if scheme in ("", "http", "https") and not _WEB.match(url):
        raise InvalidRequest(
            f"{label} does not look like a web address (e.g. https://example.org).", field=field
        )


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
        """Return a cleaned copy (NFC, trimmed, unified newlines; line breaks in fields other
        than the description become spaces, tabs in the description too) or raise
        InvalidRequest naming the field: empty title, over-long field, lone surrogates, control
        characters (tabs and line breaks are allowed in the description only), a link that is
        not http(s), mailto: or tel:.

        Validating is pure, and the pipeline asks at each stage (the service, then compose and
        its planner, several times a flyer): the texts are checked once and the cleaned values
        remembered (:func:`_cleaned`, a small LRU cache); an already clean copy is returned as
        it is."""
        values = tuple(getattr(self, f.name) for f in fields(self))
        if all(isinstance(value, str) for value in values):
            cleaned = _cleaned(values)
        else:  # None becomes "", anything else is refused by name: not cached
            cleaned = _clean_fields(values)
        if cleaned == values:
            return self
        return replace(self, **dict(zip(_DETAIL_NAMES, cleaned, strict=True)))


_DETAIL_NAMES: tuple[str, ...] = tuple(f.name for f in fields(EventDetails))


def _clean_fields(values: tuple[object, ...]) -> tuple[str, ...]:
    """:meth:`EventDetails.validated`'s work on the fields' values, in declaration order."""
    cleaned: dict[str, str] = {}
    for name, raw in zip(_DETAIL_NAMES, values, strict=True):
        label, limit = FIELD_LIMITS[name]
        if raw is None:
            raw = ""
        if not isinstance(raw, str):
            raise InvalidRequest(f"{label} must be text.", field=name)
        text = unicodedata.normalize("NFC", raw.replace("\r\n", "\n").replace("\r", "\n"))
        text = "\n".join(line.strip() for line in text.strip().split("\n"))
        if name != "description" and "\n" in text:
            text = " ".join(part for part in text.split("\n") if part)
        if name == "url" and text:
            check_link(text, name, label)
        check_text(text, name, label, multiline=name == "description")
        text = text.replace("\t", " ")  # the fonts have no tab: it is a space on a flyer
        if len(text) > limit:
            raise InvalidRequest(
                f"{label} is {len(text)} characters long; the limit is {limit}.", field=name
            )
        cleaned[name] = text
    if not cleaned["title"]:
        raise InvalidRequest("Title is required: give the event a name.", field="title")
    return tuple(cleaned[name] for name in _DETAIL_NAMES)


@lru_cache(maxsize=256)
def _cleaned(values: tuple[str, ...]) -> tuple[str, ...]:
    """:func:`_clean_fields`, remembered (refusals raise and are not remembered)."""
    return _clean_fields(values)


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
    return tuple(hex_colour(parse_hex(item)) for item in items)


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
