"""Bundled open-licence fonts, named pairings, and per-character font fallback.

Every font file lives in ``pipeline/render/fonts/`` with its licence in ``fonts/licenses/``.
A pairing names three font roles: ``title`` (display face), ``body`` and ``body_bold``.
Characters the role's face lacks fall back, in order, to Inter, Noto Sans Arabic, Noto Sans
Hebrew, Droid Sans Fallback (CJK) and Noto Sans Symbols 2; coverage is read from each font's
cmap, so we never draw a tofu box.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

from ..errors import InvalidRequest
from .cmap import covered_codepoints

__all__ = [
    "FONT_DIR",
    "FONT_ROLES",
    "PAIRING_NAMES",
    "FontFace",
    "Pairing",
    "fallback_chain",
    "get_pairing",
    "list_pairings",
    "load_font",
]

FONT_DIR = Path(__file__).with_name("fonts")
FONT_ROLES = ("title", "body", "body_bold")


@dataclass(frozen=True)
class FontFace:
    """One font file and a human name for the manifest."""

    name: str
    file: str
    bold: bool = False
    path: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", str(FONT_DIR / self.file))

    def covers(self, char: str) -> bool:
        return ord(char) in covered_codepoints(self.path)


_FACES = {
    f.name: f
    for f in (
        FontFace("Inter Display ExtraBold", "InterDisplay-ExtraBold.otf", True),
        FontFace("Inter Regular", "Inter-Regular.otf"),
        FontFace("Inter SemiBold", "Inter-SemiBold.otf", True),
        FontFace("Bebas Neue Bold", "BebasNeue-Bold.otf", True),
        FontFace("League Spartan Bold", "LeagueSpartan-Bold.otf", True),
        FontFace("Roboto Slab Bold", "RobotoSlab-Bold.otf", True),
        FontFace("Roboto Slab Regular", "RobotoSlab-Regular.otf"),
        FontFace("Open Sans Condensed Bold", "OpenSans-CondBold.ttf", True),
        FontFace("Open Sans Regular", "OpenSans-Regular.ttf"),
        FontFace("Open Sans SemiBold", "OpenSans-Semibold.ttf", True),
        FontFace("Cabin Bold", "Cabin-Bold.otf", True),
        FontFace("Cabin Regular", "Cabin-Regular.otf"),
        FontFace("Cabin SemiBold", "Cabin-SemiBold.otf", True),
        FontFace("Noto Serif Display Bold", "NotoSerifDisplay-Bold.ttf", True),
        FontFace("Noto Serif Regular", "NotoSerif-Regular.ttf"),
        FontFace("Noto Sans Arabic Regular", "NotoSansArabic-Regular.ttf"),
        FontFace("Noto Sans Arabic Bold", "NotoSansArabic-Bold.ttf", True),
        FontFace("Noto Sans Hebrew Regular", "NotoSansHebrew-Regular.ttf"),
        FontFace("Noto Sans Hebrew Bold", "NotoSansHebrew-Bold.ttf", True),
        FontFace("Droid Sans Fallback", "DroidSansFallbackFull.ttf"),
        FontFace("Noto Sans Symbols 2", "NotoSansSymbols2-Regular.ttf"),
    )
}


@dataclass(frozen=True)
class Pairing:
    name: str
    label: str
    title: FontFace
    body: FontFace
    body_bold: FontFace

    def face(self, role: str) -> FontFace:
        if role not in FONT_ROLES:
            raise InvalidRequest(f"Unknown font role {role!r}; use one of {FONT_ROLES}.")
        face: FontFace = getattr(self, role)
        return face


def _pairing(name: str, label: str, title: str, body: str, body_bold: str) -> Pairing:
    return Pairing(name, label, _FACES[title], _FACES[body], _FACES[body_bold])


_PAIRINGS = {
    p.name: p
    for p in (
        _pairing("default", "Modern sans (Inter)", "Inter Display ExtraBold", "Inter Regular",
                 "Inter SemiBold"),
        _pairing("classic", "Classic serif (Noto Serif)", "Noto Serif Display Bold",
                 "Noto Serif Regular", "Noto Serif Display Bold"),
        _pairing("bold_display", "Bold display (Bebas Neue + Inter)", "Bebas Neue Bold",
                 "Inter Regular", "Inter SemiBold"),
        _pairing("condensed", "Condensed (Open Sans Condensed)", "Open Sans Condensed Bold",
                 "Open Sans Regular", "Open Sans SemiBold"),
        _pairing("friendly", "Friendly (Cabin)", "Cabin Bold", "Cabin Regular", "Cabin SemiBold"),
        _pairing("geometric", "Geometric (League Spartan + Inter)", "League Spartan Bold",
                 "Inter Regular", "Inter SemiBold"),
        _pairing("slab", "Slab serif (Roboto Slab)", "Roboto Slab Bold", "Roboto Slab Regular",
                 "Roboto Slab Bold"),
    )
}

PAIRING_NAMES: tuple[str, ...] = tuple(_PAIRINGS)


def list_pairings() -> list[dict[str, str]]:
    """Every pairing as plain data: name, label, title and body family."""
    return [
        {"name": p.name, "label": p.label, "title": p.title.name, "body": p.body.name}
        for p in _PAIRINGS.values()
    ]


def get_pairing(name: str) -> Pairing:
    """The named pairing; an unknown name raises InvalidRequest listing the valid ones."""
    key = (name or "default").strip().lower()
    if key not in _PAIRINGS:
        raise InvalidRequest(
            f"Unknown font pairing {name!r}; use one of {', '.join(PAIRING_NAMES)}.",
            field="font_pairing",
        )
    return _PAIRINGS[key]


def fallback_chain(primary: FontFace) -> tuple[FontFace, ...]:
    """``primary`` first, then faces for other scripts, weight-matched where we have both."""
    weight = "Bold" if primary.bold else "Regular"
    names = (
        "Inter SemiBold" if primary.bold else "Inter Regular",
        f"Noto Sans Arabic {weight}",
        f"Noto Sans Hebrew {weight}",
        "Droid Sans Fallback",
        "Noto Sans Symbols 2",
    )
    chain = [primary] + [_FACES[n] for n in names if _FACES[n] != primary]
    return tuple(chain)


FONT_CACHE = 96
"""FreeType fonts kept loaded, each one font at one size. Each holds ~350 KB (its own parse of
the font's tables: Pillow opens a face per size), and fitting a new text visits a dozen sizes
per role, so a process composing varied texts filled a cache of 256 with ~85 MB of fonts
(200 flyers, four formats, seven titles: 82 MB freed by clearing it). At 96 it holds ~30 MB;
the extra loads (~0.4 ms each, ~6 a flyer) did not show in the flyers' time."""


@lru_cache(maxsize=FONT_CACHE)
def load_font(path: str, size: int) -> ImageFont.FreeTypeFont:
    """A FreeType font at ``size`` px using raqm shaping (cached, ``FONT_CACHE``: loading
    costs ~0.4 ms)."""
    return ImageFont.truetype(path, size=max(1, int(size)), layout_engine=ImageFont.Layout.RAQM)
