"""Where a word may break across lines: soft hyphens the organiser typed, hard hyphens it
already has, and the language's hyphenation patterns (pyphen) for everything else.

A word is cut into *pieces*; between two pieces the line may break. A break at a soft hyphen
or a pattern point draws a hyphen at the end of the line; a break after a hard hyphen draws
nothing more. Words holding soft hyphens break only there (the organiser chose). Patterns
never leave fewer than ``MIN_HEAD`` letters before the first break or ``MIN_TAIL`` after the
last, and none right after a syllable shorter than ``MIN_PIECE`` letters, so no line starts
or ends with a one- or two-letter scrap of a word. In languages that write compounds as one
word, breaks at a compound's joints are marked ``strong``: the fitter prefers them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise

import pyphen

from .scripts import is_cjk

__all__ = ["COMPOUNDING", "HYPHEN", "MIN_HEAD", "MIN_TAIL", "SOFT_HYPHEN", "Pieces", "is_joint",
           "split_word"]

SOFT_HYPHEN = "\u00ad"
HYPHEN = "-"
HARD_HYPHENS = "-\u2010"
MIN_HEAD = 3
MIN_TAIL = 3
MIN_PIECE = 3
"""A pattern point right after a one- or two-letter syllable is dropped ("ge-|sell", "ka-|pi"):
such a line end reads as a stray prefix; the syllable stays with the one after it."""


@dataclass(frozen=True)
class Pieces:
    """A word cut where it may break: ``texts`` joined is the word as drawn whole;
    ``hyphen[i]`` says whether a break after ``texts[i]`` draws a hyphen, ``strong[i]``
    whether it falls where a compound joins (see :func:`is_joint`)."""

    texts: tuple[str, ...]
    hyphen: tuple[bool, ...]
    strong: tuple[bool, ...]

    @property
    def word(self) -> str:
        return "".join(self.texts)


COMPOUNDING = frozenset({"de", "nl", "sv", "da", "nb", "nn", "af"})
"""Languages that write compounds as one word: their breaks at joints are preferred."""
_VOWELS = set("aeiouyäöüåæøéèáàóòíìúù")


def is_joint(head: str, tail: str) -> bool:
    """Whether a break between ``head`` and ``tail`` (pieces of one word in a compounding
    language) looks like the joint of a compound rather than a syllable inside one: after a
    linking s ("Frühjahrs|gemeinschaft"), before a vowel, which a syllable inside a word
    never starts with in these languages ("Ausstellungs|eröffnung"), or across a tripled
    consonant ("Schiff|fahrt")."""
    h, t = head.lower(), tail.lower()
    if not h or not t:
        return False
    if len(h) >= 4 and h.endswith("s") and h[-2] not in _VOWELS | {"s"}:
        return True
    if t[0] in _VOWELS and h[-1].isalpha() and h[-1] not in _VOWELS:
        return True
    return len(h) >= 2 and h[-1] == h[-2] == t[0] and h[-1] not in _VOWELS


@lru_cache(maxsize=16)
def _dictionary(patterns: str) -> pyphen.Pyphen:
    return pyphen.Pyphen(lang=patterns, left=MIN_HEAD, right=MIN_TAIL)


def _letters(text: str) -> int:
    return sum(1 for ch in text if ch.isalpha())


def _pattern_points(part: str, patterns: str | None) -> list[int]:
    """Offsets in ``part`` where the patterns allow a break (letters only, no CJK)."""
    if patterns is None:
        return []
    start = 0
    while start < len(part) and not part[start].isalpha():
        start += 1
    end = len(part)
    while end > start and not part[end - 1].isalpha():
        end -= 1
    core = part[start:end]
    if len(core) < MIN_HEAD + MIN_TAIL or not all(ch.isalpha() or ch in "'’" for ch in core):
        return []
    if any(is_cjk(ch) for ch in core):
        return []
    kept: list[int] = []
    for point in _dictionary(patterns).positions(core):
        if getattr(point, "data", None) is not None:
            continue  # a spelling change at the break (old German "ck" → "k-k"): skip it
        if _letters(core[(kept[-1] if kept else 0):int(point)]) >= MIN_PIECE:
            kept.append(int(point))
    return [start + p for p in kept]


def _cut(text: str, points: list[int]) -> list[str]:
    bounds = [0, *points, len(text)]
    return [text[a:b] for a, b in pairwise(bounds) if b > a]


@lru_cache(maxsize=4096)
def split_word(word: str, patterns: str | None) -> Pieces:
    """``word`` (one token of a line, no spaces) cut at every place it may break."""
    if SOFT_HYPHEN in word:
        parts = [p for p in word.split(SOFT_HYPHEN) if p]
        texts: list[str] = []
        hyphen: list[bool] = []
        for n, part in enumerate(parts):
            hard = _hard_parts(part)
            texts.extend(hard)
            hyphen.extend([False] * (len(hard) - 1))
            if n < len(parts) - 1:
                hyphen.append(True)
        return Pieces(tuple(texts), tuple(hyphen), (True,) * len(hyphen))
    texts, hyphen = [], []
    hard = _hard_parts(word)
    for n, part in enumerate(hard):
        cut = _cut(part, _pattern_points(part, patterns))
        texts.extend(cut)
        hyphen.extend([True] * (len(cut) - 1))
        if n < len(hard) - 1:
            hyphen.append(False)
    compound = patterns is not None and patterns.split("_")[0].lower() in COMPOUNDING
    strong = tuple(not hy or not compound or is_joint(texts[i], texts[i + 1])
                   for i, hy in enumerate(hyphen))
    return Pieces(tuple(texts), tuple(hyphen), strong)


def _hard_parts(word: str) -> list[str]:
    """``word`` cut after each hard hyphen that has letters on both sides ("Open-|Air")."""
    points = [i + 1 for i, ch in enumerate(word)
              if ch in HARD_HYPHENS and 0 < i < len(word) - 1
              and _letters(word[:i]) >= 2 and word[i + 1].isalpha()]
    return _cut(word, points)
