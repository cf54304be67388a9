"""The event's language: set by the organiser (``FLYER_LANGUAGE``) or guessed from its texts.

The guess is a light heuristic, not a classifier: the script decides first (CJK, Arabic,
Hebrew, Thai, Greek, Cyrillic), then Latin-script text is scored per language by its common
short words (two points each), its letters that other languages lack (one point each) and a few
word endings (one point each). No evidence at all means English. The language only picks the
hyphenation patterns (pyphen's dictionaries) and is written into the manifest; a language with
no patterns (Japanese, Arabic...) simply never hyphenates.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import pyphen

__all__ = [
    "AUTO",
    "NONE",
    "Language",
    "check_language",
    "detect_language",
    "hyphenation_dictionary",
    "resolve_language",
]

AUTO = "auto"
NONE = "none"
_NO_PATTERNS = {"ja", "zh", "ko", "ar", "he", "fa", "ur", "yi"}
"""Languages we recognise that have no hyphenation: CJK breaks anywhere, RTL scripts never."""



def _set(words: str) -> frozenset[str]:
    return frozenset(words.split())


_WORDS: dict[str, frozenset[str]] = {
    "en": _set("the and of for with at in on to night live festival concert from by "
                    "presents featuring your our this is are"),
    "de": _set("der die das und mit für im am zum zur ein eine von des dem den auf bei "
                    "ist nacht uhr eintritt frei jahre großes kleines"),
    "fr": _set("le la les et du des de une un au aux pour avec en sur chez soirée "
                    "entrée libre nuit"),
    "es": _set("el la los las y del de con para una un en por noche entrada libre "
                    "fiesta"),
    "it": _set("il lo gli di della delle e con per una un del alla nel serata ingresso "
                    "libero notte"),
    "pt": _set("o os as do da dos das e com para uma um em no na noite entrada "
                    "grátis"),
    "nl": _set("het een en van de op voor met bij in avond gratis toegang"),
    "sv": _set("och med för på av en ett till kväll fri entré"),
    "da": _set("og med for på af en et til aften gratis"),
    "nb": _set("og med for på av en et til kveld gratis"),
    "pl": _set("i w z na do dla oraz wieczór wstęp wolny"),
    "cs": _set("a v s na do pro se večer vstup zdarma"),
}
_LETTERS: dict[str, str] = {
    "de": "äöüß",
    "fr": "éèêëàâçœîôûù",
    "es": "ñ¿¡áíóú",
    "it": "àèìòù",
    "pt": "ãõçáâêô",
    "nl": "ĳ",
    "sv": "åäö",
    "da": "æøå",
    "nb": "æøå",
    "pl": "ąćęłńśźż",
    "cs": "čďěňřšťůž",
}
_ENDINGS: dict[str, tuple[str, ...]] = {
    "en": ("ing", "tion", "ght", "ness"),
    "de": ("ung", "heit", "keit", "schaft", "chen", "lich", "fest", "ball", "markt"),
    "fr": ("eau", "eux", "ique", "ée"),
    "es": ("ción", "dad", "ando"),
    "it": ("zione", "zioni", "etto"),
    "nl": ("heid", "lijk"),
}
_PREFERRED = {"de": "de_DE", "en": "en_US"}
"""Where pyphen's own fallback picks a regional variant (de → de_AT, en → en_GB)."""
_WORD = re.compile(r"[^\W\d_]+")


@dataclass(frozen=True)
class Language:
    """The language a flyer is set in, where it came from, and its hyphenation patterns."""

    code: str
    """A short code (``de``, ``en``, ``pt_BR``...) or ``none``."""
    source: str
    """``setting`` (FLYER_LANGUAGE or the request) or ``detected``."""
    patterns: str | None
    """pyphen's dictionary name, or None when this language is not hyphenated."""

    def as_dict(self) -> dict[str, str | None]:
        return {"code": self.code, "source": self.source, "hyphenation": self.patterns}


def _normal(code: str) -> str:
    return code.strip().replace("-", "_")


@lru_cache(maxsize=64)
def hyphenation_dictionary(code: str) -> str | None:
    """pyphen's dictionary for ``code`` (``de``, ``de-AT``, ``en_GB``...), or None."""
    key = _normal(code)
    if not key or key.lower() in (NONE, AUTO) or key.split("_")[0].lower() in _NO_PATTERNS:
        return None
    found = _PREFERRED.get(key.lower()) or pyphen.language_fallback(key)
    if found is None:
        parts = key.split("_")
        found = pyphen.language_fallback("_".join([parts[0].lower(), *parts[1:]]))
    return str(found) if found else None


def check_language(raw: str) -> str | None:
    """``raw`` as a setting's value (``auto``, ``none`` or a language code), or None when it
    names no language we can set text in."""
    value = _normal(raw)
    lowered = value.lower()
    if lowered in (AUTO, NONE, "off"):
        return NONE if lowered == "off" else lowered
    if lowered.split("_")[0] in _NO_PATTERNS or hyphenation_dictionary(value) is not None:
        return value
    return None


def _script(ch: str) -> str | None:
    o = ord(ch)
    if 0x3040 <= o <= 0x30FF:
        return "ja"
    if 0xAC00 <= o <= 0xD7AF or 0x1100 <= o <= 0x11FF:
        return "ko"
    if 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF:
        return "zh"
    if 0x0590 <= o <= 0x05FF:
        return "he"
    if 0x0600 <= o <= 0x06FF or 0x0750 <= o <= 0x077F:
        return "ar"
    if 0x0E00 <= o <= 0x0E7F:
        return "th"
    if 0x0370 <= o <= 0x03FF:
        return "el"
    if 0x0400 <= o <= 0x04FF:
        return "ru"
    if unicodedata.category(ch).startswith("L"):
        return "latin"
    return None


def detect_language(texts: Iterable[str]) -> str:
    """A guess at the language of ``texts`` (see the module's docstring)."""
    return _detect(" ".join(t for t in texts if t))


@lru_cache(maxsize=256)
def _detect(text: str) -> str:
    """``detect_language`` of the joined text, cached: the flyers of a batch, each format and
    every re-render share the event's texts (a per-character scan, ~1 ms each time)."""
    counts: dict[str, int] = {}
    for ch in text:
        script = _script(ch)
        if script is not None:
            counts[script] = counts.get(script, 0) + 1
    if not counts:
        return "en"
    if counts.get("ja"):  # kana: Japanese even when kanji outnumber it
        return "ja"
    script = max(counts, key=lambda k: (counts[k], k))
    if script == "ru":
        return "uk" if any(c in text.lower() for c in "іїєґ") else "ru"
    if script != "latin":
        return script
    lowered = text.lower()
    words = _WORD.findall(lowered)
    scores = {lang: 0 for lang in _WORDS}
    for lang, common in _WORDS.items():
        scores[lang] += 2 * sum(1 for w in words if w in common)
    for lang, letters in _LETTERS.items():
        scores[lang] += sum(lowered.count(c) for c in letters)
    for lang, endings in _ENDINGS.items():
        scores[lang] += sum(1 for w in words if len(w) > 5 and w.endswith(endings))
    best = max(scores, key=lambda k: (scores[k], k == "en", k))
    return best if scores[best] > 0 else "en"


def resolve_language(setting: str, texts: Iterable[str]) -> Language:
    """The flyer's language: ``setting`` unless it is ``auto``, else detected from ``texts``."""
    value = check_language(setting or AUTO) or AUTO
    if value == AUTO:
        code = detect_language(texts)
        return Language(code, "detected", hyphenation_dictionary(code))
    return Language(value, "setting", hyphenation_dictionary(value))
