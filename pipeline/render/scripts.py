"""Scripts and directions of text: CJK and emoji detection, paragraph direction, cleaning
what no bundled font can draw, and splitting a line into font runs in visual order."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from .fonts import FontFace, fallback_chain

__all__ = ["Run", "clean_text", "is_cjk", "paragraph_direction", "split_runs", "visual_runs"]

_RTL = {"R", "AL"}
_NEUTRAL = {"WS", "ON", "CS", "ES", "ET", "EN", "AN", "BN", "NSM", "S", "B"}
_IGNORABLE = {"\ufe0e", "\ufe0f", "\u200d", "\u20e3"}
_SPACES = re.compile(r"[ \u00a0]{2,}")


def is_cjk(ch: str) -> bool:
    """Ideographs, kana and CJK punctuation: scripts that wrap between any two characters."""
    o = ord(ch)
    return (
        0x3000 <= o <= 0x30FF
        or 0x3400 <= o <= 0x4DBF
        or 0x4E00 <= o <= 0x9FFF
        or 0xF900 <= o <= 0xFAFF
        or 0xFF00 <= o <= 0xFFEF
        or 0x20000 <= o <= 0x2FFFF
    )


def _is_emoji(ch: str) -> bool:
    o = ord(ch)
    return (
        0x1F000 <= o <= 0x1FAFF
        or 0x2600 <= o <= 0x27BF
        or 0x2B00 <= o <= 0x2BFF
        or 0xE0020 <= o <= 0xE007F
        or ch in _IGNORABLE
    )


def paragraph_direction(text: str) -> str:
    """'rtl' when the first strong character is Hebrew/Arabic, else 'ltr' (Unicode rule P2)."""
    for ch in text:
        kind = unicodedata.bidirectional(ch)
        if kind in _RTL:
            return "rtl"
        if kind == "L":
            return "ltr"
    return "ltr"


def clean_text(text: str, primary: FontFace, label: str) -> tuple[str, list[str]]:
    """NFC-normalise and drop what no bundled font can draw, with a warning per drop.

    Emoji sequences no font covers are removed ("never a silent tofu box"); symbols such as
    ★ or ♫ that Noto Sans Symbols 2 covers are kept.
    """
    text = unicodedata.normalize("NFC", text)
    chain = fallback_chain(primary)
    kept: list[str] = []
    dropped_emoji: list[str] = []
    dropped_other: list[str] = []
    for ch in text:
        if ch in _IGNORABLE:
            continue  # emoji presentation selectors and joiners: nothing to draw alone
        if ch in "\n " or any(face.covers(ch) for face in chain):
            kept.append(ch)
        elif ch in _IGNORABLE or unicodedata.category(ch) in ("Cf", "Mn"):
            if unicodedata.category(ch) == "Mn" and not _is_emoji(ch):
                dropped_other.append(ch)
        elif _is_emoji(ch):
            dropped_emoji.append(ch)
        else:
            dropped_other.append(ch)
    warnings: list[str] = []
    if dropped_emoji:
        warnings.append(
            f"Removed emoji {''.join(dict.fromkeys(dropped_emoji))} from the {label}: "
            "no bundled font can draw it."
        )
    if dropped_other:
        shown = ", ".join(f"U+{ord(c):04X}" for c in dict.fromkeys(dropped_other))
        warnings.append(f"Removed characters {shown} from the {label}: no bundled font has them.")
    out = "\n".join(_SPACES.sub(" ", line).strip() for line in "".join(kept).split("\n"))
    return out.strip(), warnings


@dataclass(frozen=True)
class Run:
    """A piece of one line drawn with one face in one direction."""

    text: str
    face: FontFace
    direction: str


def split_runs(line: str, primary: FontFace, para_dir: str) -> list[Run]:
    """Split ``line`` into font runs and return them in visual (left-to-right) order."""
    return list(visual_runs(line, primary, para_dir))


@lru_cache(maxsize=4096)
def visual_runs(line: str, primary: FontFace, para_dir: str) -> tuple[Run, ...]:
    """``split_runs`` memoised (bounded LRU), as a tuple: callers must not mutate it."""
    chain = fallback_chain(primary)
    pieces: list[tuple[str, FontFace]] = []
    current: FontFace | None = None
    buf: list[str] = []
    for ch in line:
        neutral = unicodedata.bidirectional(ch) in _NEUTRAL or unicodedata.category(ch) == "Mn"
        if current is not None and neutral and current.covers(ch):
            buf.append(ch)
            continue
        face = next((f for f in chain if f.covers(ch)), chain[0])
        if face != current and buf:
            pieces.append(("".join(buf), current or face))
            buf = []
        current = face
        buf.append(ch)
    if buf:
        pieces.append(("".join(buf), current or primary))
    runs: list[Run] = []
    for text, face in pieces:
        kinds = {unicodedata.bidirectional(c) for c in text}
        direction = "rtl" if kinds & _RTL else ("ltr" if "L" in kinds else para_dir)
        runs.append(Run(text, face, direction))
    groups: list[list[Run]] = []
    for run in runs:
        if groups and groups[-1][0].direction == run.direction:
            groups[-1].append(run)
        else:
            groups.append([run])
    ordered = [list(reversed(g)) if g[0].direction == "rtl" else g for g in groups]
    if para_dir == "rtl":
        ordered.reverse()
    return tuple(r for g in ordered for r in g)
