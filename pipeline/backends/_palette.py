"""Colour palettes for the procedural backend: from the prompt's words or from brand colours.

A :class:`Palette` has five roles: ``base`` and ``base2`` (the large background areas),
``accent`` and ``accent2`` (shapes), ``glow`` (highlights). Known words ("jazz", "spring",
"techno"...) pick a designed palette; other words are hashed into a hue family, so the same
prompt always gets the same colours.
"""

from __future__ import annotations

import colorsys
import hashlib
import re
from dataclasses import dataclass

import numpy as np

from ..colours import parse_hex

__all__ = [
    "KEYWORD_PALETTES",
    "Palette",
    "PaletteRoles",
    "UnitRGB",
    "palette_for",
    "prompt_words",
    "unit_rgb",
]

UnitRGB = tuple[float, float, float]
"""sRGB as floats in [0, 1] (what the procedural painter mixes; ``pipeline.colours.RGB`` is
0-255 levels)."""
Palette = list[UnitRGB]
"""Colours ordered from darkest to lightest (what the procedural styles paint with)."""

# word -> (base, base2, accent, accent2, glow)
KEYWORD_PALETTES: dict[str, tuple[str, str, str, str, str]] = {
    "jazz": ("#0b1030", "#2a1452", "#e0a030", "#7b2ff7", "#ffd27a"),
    "blues": ("#07122e", "#16306b", "#3d7bd9", "#c9a227", "#9cc3ff"),
    "night": ("#060a1f", "#1b1f4b", "#5b5fef", "#b13cff", "#aab4ff"),
    "neon": ("#0a0014", "#1d0438", "#ff2bd6", "#00e5ff", "#ff8af0"),
    "club": ("#0a0014", "#240546", "#ff2bd6", "#6a5cff", "#ff9af2"),
    "techno": ("#050507", "#101020", "#39ff14", "#ff00a8", "#00f0ff"),
    "rave": ("#040404", "#130a24", "#00f0ff", "#ff00a8", "#e9ff3b"),
    "spring": ("#f1f8e6", "#cfeab8", "#6cbf5e", "#ffd54a", "#ffb7c5"),
    "market": ("#fbf1d8", "#e3efc4", "#e85d3a", "#5aa65a", "#ffd166"),
    "garden": ("#eef6e4", "#b9dca2", "#3f9b5a", "#f3a6c4", "#fff3a6"),
    "flower": ("#fdf1f4", "#f6c9d8", "#e05a8a", "#7fbf6a", "#fff0a8"),
    "summer": ("#fdf0d5", "#9fe3e0", "#ff7f6b", "#1fa6a6", "#fff6e0"),
    "beach": ("#fbe9c6", "#8fd8d8", "#ff8a66", "#138d9c", "#fffbe8"),
    "ocean": ("#03213a", "#0b4f6c", "#20a4c4", "#7be0d6", "#d8fbff"),
    "sunset": ("#2d0f3f", "#c2366b", "#ff8c42", "#ffc24b", "#ffe3b0"),
    "autumn": ("#2b1408", "#6b2a0f", "#e07b22", "#b33a1a", "#f5c26b"),
    "harvest": ("#2e1a08", "#7a3b10", "#e39a2b", "#a8461b", "#f7d07a"),
    "halloween": ("#0c0710", "#2a0f3a", "#ff7a00", "#7d2ae8", "#ffb347"),
    "winter": ("#e9f2fb", "#a9cbea", "#2f6fb3", "#d7263d", "#ffffff"),
    "snow": ("#eef5fc", "#bcd6ef", "#5d8fc7", "#9fb8d6", "#ffffff"),
    "christmas": ("#0d3524", "#14472f", "#c8102e", "#e8c766", "#fff7e0"),
    "love": ("#fdeef1", "#f5bfcd", "#d8345f", "#f7a072", "#fff5f7"),
    "wedding": ("#fbf6ef", "#efdcc9", "#c9a46b", "#d9a5b3", "#ffffff"),
    "party": ("#1a0b3b", "#5b1aa6", "#ff3e8a", "#ffd23f", "#3ef0ff"),
    "birthday": ("#fff4e6", "#ffd6e8", "#ff5c8a", "#3ec1d3", "#ffe066"),
    "carnival": ("#21095a", "#b0128a", "#ffb400", "#00c2a8", "#ff5d5d"),
    "classical": ("#1a0a0e", "#4a1020", "#c9a227", "#8c1c2b", "#f3e2b3"),
    "opera": ("#14060a", "#3d0b1a", "#d4af37", "#a3122a", "#f6e7c1"),
    "forest": ("#0d2418", "#1f4d2e", "#6aa84f", "#c4d96b", "#e7f5d0"),
    "nature": ("#eef5e9", "#bcd9a5", "#4f8f3a", "#d9c36a", "#fbfff2"),
    "coffee": ("#2a1a12", "#5c3b28", "#c08a5b", "#e8cfa8", "#fff3e2"),
    "book": ("#f6efe3", "#e2d2b8", "#8a5a3b", "#3f5e5a", "#fffaf0"),
    "art": ("#f4efe6", "#e4d4c2", "#d0613c", "#3e5c76", "#fffdf8"),
    "tech": ("#060d24", "#0f2a5c", "#2d7ff9", "#18e0c8", "#b9d8ff"),
    "conference": ("#0a1430", "#173a73", "#3f8efc", "#f2b134", "#dbe9ff"),
    "hackathon": ("#07070f", "#14183a", "#7c4dff", "#00e0a4", "#c7b8ff"),
    "sport": ("#071a3a", "#0f3d8a", "#ff6b1a", "#ffd23f", "#e6f0ff"),
    "pride": ("#24113f", "#e4003a", "#ff8c00", "#008026", "#24408e"),
    "kids": ("#fff8e7", "#d7f0ff", "#ff6f61", "#4cc9f0", "#ffd43b"),
    "food": ("#2b1206", "#7a2e0e", "#f28c28", "#e63946", "#ffd6a5"),
    "wine": ("#1c0610", "#4a0d24", "#a4243b", "#d8a7b1", "#f6e3e8"),
    "yoga": ("#f6f1ea", "#dfe8e1", "#8fb9a8", "#e7b59a", "#ffffff"),
    "film": ("#08080a", "#1e1a24", "#e3b23c", "#b52a2a", "#f2e6c9"),
}

_ALIASES: dict[str, str] = {
    "saxophone": "jazz", "swing": "jazz", "lounge": "jazz", "soul": "jazz",
    "midnight": "night", "nocturne": "night", "moon": "night", "star": "night",
    "disco": "club", "dj": "club", "electro": "techno", "house": "techno", "edm": "rave",
    "warehouse": "techno", "bloom": "spring", "easter": "spring", "farmers": "market",
    "fair": "market", "bazaar": "market", "picnic": "garden", "plant": "garden",
    "floral": "flower", "blossom": "flower", "sea": "ocean", "surf": "beach", "pool": "summer",
    "tropical": "summer", "dusk": "sunset", "fall": "autumn", "thanksgiving": "harvest",
    "pumpkin": "halloween", "spooky": "halloween", "xmas": "christmas", "noel": "christmas",
    "holiday": "christmas", "ski": "snow", "ice": "snow", "frost": "winter",
    "valentine": "love", "romance": "love", "gala": "classical", "orchestra": "classical",
    "symphony": "classical", "piano": "classical", "concert": "classical", "ballet": "opera",
    "eco": "nature", "green": "nature", "hike": "forest", "cafe": "coffee",
    "reading": "book", "library": "book", "poetry": "book", "gallery": "art",
    "exhibition": "art", "museum": "art", "startup": "tech", "ai": "tech", "code": "hackathon",
    "summit": "conference", "meetup": "conference", "run": "sport", "marathon": "sport",
    "football": "sport", "soccer": "sport", "fitness": "sport", "rainbow": "pride",
    "family": "kids", "children": "kids", "street": "food", "bbq": "food",
    "tasting": "wine", "meditation": "yoga", "wellness": "yoga", "cinema": "film",
    "movie": "film", "festival": "carnival", "fiesta": "carnival", "celebration": "party",
}

_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class PaletteRoles:
    """Five colour roles as RGB floats in [0, 1]."""

    base: UnitRGB
    base2: UnitRGB
    accent: UnitRGB
    accent2: UnitRGB
    glow: UnitRGB
    source: str
    """Where the colours came from: 'brand', 'keyword:<word>' or 'hue:<degrees>'."""

    def array(self, role: str) -> np.ndarray:
        return np.asarray(getattr(self, role), dtype=np.float32)


def unit_rgb(value: str) -> UnitRGB:
    """A hex colour as floats in [0, 1] (InvalidRequest naming the palette if it is not one)."""
    r, g, b = parse_hex(value)
    return (r / 255.0, g / 255.0, b / 255.0)


def prompt_words(prompt: str) -> list[str]:
    return _WORD.findall(prompt.lower())


def _luma(rgb: UnitRGB) -> float:
    return 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]


def _mix(a: UnitRGB, b: UnitRGB, t: float) -> UnitRGB:
    return (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t)


def _keyword(word: str) -> str | None:
    if word in KEYWORD_PALETTES:
        return word
    if word in _ALIASES:
        return _ALIASES[word]
    for key in KEYWORD_PALETTES:  # plurals and derived forms: "jazzy", "markets", "raves"
        if len(key) >= 4 and word.startswith(key):
            return key
    if word.endswith("s") and word[:-1] in _ALIASES:
        return _ALIASES[word[:-1]]
    return None


def _from_keywords(words: list[str]) -> PaletteRoles | None:
    found: list[str] = []
    for word in words:
        key = _keyword(word)
        if key is not None and key not in found:
            found.append(key)
    if not found:
        return None
    base, base2, accent, accent2, glow = (unit_rgb(c) for c in KEYWORD_PALETTES[found[0]])
    if len(found) > 1:  # a second theme lends its accent: "jazz night", "spring market"
        accent2 = unit_rgb(KEYWORD_PALETTES[found[1]][2])
    return PaletteRoles(base, base2, accent, accent2, glow, source=f"keyword:{found[0]}")


def _from_hash(words: list[str]) -> PaletteRoles:
    text = " ".join(sorted(set(words))) or "flyer"
    digest = hashlib.sha256(text.encode()).digest()
    hue = digest[0] / 256.0
    scheme = digest[1] % 3  # analogous, complementary, split-complementary
    dark = digest[2] % 3 != 0  # two in three prompts get a deep background
    offsets = ((0.08, -0.08), (0.5, 0.04), (0.42, 0.58))[scheme]

    def hls(h: float, lightness: float, saturation: float) -> UnitRGB:
        return colorsys.hls_to_rgb(h % 1.0, lightness, saturation)

    if dark:
        base, base2 = hls(hue, 0.10, 0.55), hls(hue + 0.04, 0.24, 0.55)
        accent, accent2 = hls(hue + offsets[0], 0.55, 0.85), hls(hue + offsets[1], 0.5, 0.75)
        glow = hls(hue + offsets[0], 0.82, 0.9)
    else:
        base, base2 = hls(hue, 0.93, 0.55), hls(hue + 0.05, 0.80, 0.55)
        accent, accent2 = hls(hue + offsets[0], 0.55, 0.75), hls(hue + offsets[1], 0.62, 0.7)
        glow = hls(hue + offsets[1], 0.97, 0.8)
    return PaletteRoles(base, base2, accent, accent2, glow, source=f"hue:{round(hue * 360)}")


def _from_brand(colours: tuple[str, ...]) -> PaletteRoles:
    rgb = [unit_rgb(c) for c in colours[:3]]
    first = rgb[0]
    black, white = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)
    if len(rgb) == 1:
        base2 = _mix(first, black, 0.35) if _luma(first) > 0.25 else _mix(first, white, 0.2)
        return PaletteRoles(first, base2, _mix(first, white, 0.35), _mix(first, black, 0.2),
                       _mix(first, white, 0.7), source="brand")
    second = rgb[1]
    third = rgb[2] if len(rgb) > 2 else _mix(second, white, 0.3)
    return PaletteRoles(first, second, third, _mix(first, white, 0.3), _mix(third, white, 0.6),
                   source="brand")


def palette_for(prompt: str, brand: tuple[str, ...] = ()) -> PaletteRoles:
    """The palette for ``prompt``; brand colours ('#rrggbb', up to 3) win when given."""
    if brand:
        return _from_brand(brand)
    words = prompt_words(prompt)
    return _from_keywords(words) or _from_hash(words)

