"""Line breaking: split a paragraph into breakable tokens (CJK per character, with kinsoku),
wrap measured tokens greedily, and balance a paragraph's breaks so its lines come out even.

Paragraphs with a word too wide for the line break over *atoms* instead (tokens, and the
pieces of such words: see :mod:`.hyphenate`) with a small dynamic programme: fewest lines,
then the most even lines and the fewest hyphens, never leaving a scrap of a word alone."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from .scripts import is_cjk

__all__ = ["Atom", "atom_lines", "balance", "break_atoms", "join_line", "tokenize", "wrap"]

_NO_LINE_START = set("、。，．・：；？！）」』】〕〉》ー…‥,.!?:;)]}”’%")
_NO_LINE_END = set("（「『【〔〈《([{“‘")


def tokenize(paragraph: str) -> list[tuple[str, str]]:
    """(token, separator before it). CJK characters are tokens of their own."""
    out: list[tuple[str, str]] = []
    sep = ""
    word = ""

    def flush() -> None:
        nonlocal word, sep
        if word:
            out.append((word, sep))
            word, sep = "", ""

    for ch in paragraph:
        if ch == " ":
            flush()
            sep = " " if out else ""
        elif is_cjk(ch) and ch not in _NO_LINE_START:
            if word and word[-1] not in _NO_LINE_END:
                flush()
            word += ch
            if ch not in _NO_LINE_END:
                flush()
        elif not word and not sep and out and ch in _NO_LINE_START:
            out[-1] = (out[-1][0] + ch, out[-1][1])  # kinsoku: never start a line with it
        else:
            if word and is_cjk(word[-1]) and word[-1] not in _NO_LINE_END and \
                    ch not in _NO_LINE_START:
                flush()
            word += ch
    flush()
    return out


def wrap(tokens: Sequence[tuple[str, str]], widths: Sequence[float], space: float,
         limit: float) -> list[list[int]] | None:
    """Greedy breaks (token indices per line) within ``limit``; None if a token is wider."""
    lines: list[list[int]] = []
    current: list[int] = []
    used = 0.0
    for i, (_, sep) in enumerate(tokens):
        w = widths[i]
        if w > limit:
            return None
        extra = w + (space if sep and current else 0.0)
        if current and used + extra > limit:
            lines.append(current)
            current, used = [i], w
        else:
            current.append(i)
            used += extra
    if current:
        lines.append(current)
    return lines


def join_line(tokens: Sequence[tuple[str, str]], idx: list[int]) -> str:
    """The text of one line from its token indices, with the separators between them."""
    return "".join((tokens[i][1] if n else "") + tokens[i][0] for n, i in enumerate(idx))


def balance(tokens: Sequence[tuple[str, str]], widths: Sequence[float], space: float,
            limit: float) -> list[list[int]]:
    """Breaks within ``limit`` at the narrowest width that keeps the greedy line count, so
    the lines come out even. Every token must fit within ``limit``."""
    greedy = wrap(tokens, widths, space, limit)
    assert greedy is not None
    n = len(greedy)
    lo, hi = max(widths) if widths else 0.0, limit
    for _ in range(12):  # narrowest width that keeps the same number of lines
        mid = (lo + hi) / 2
        trial = wrap(tokens, widths, space, mid)
        if trial is not None and len(trial) <= n:
            hi = mid
        else:
            lo = mid
    return wrap(tokens, widths, space, hi) or greedy


@dataclass(frozen=True)
class Atom:
    """A piece of a paragraph the breaker places whole: a token, or a piece of a word that
    may break inside (see :mod:`.hyphenate`)."""

    text: str
    width: float
    sep: str
    """What precedes it when it is not first on its line: ' ' or '' (starts a token)."""
    joint: str = ""
    """'' when it starts a token; else how a break before it looks: 'hyphen' (a hyphen is
    drawn at the line's end) or 'hard' (the previous piece already ends with one)."""
    letters: int = 0
    strong: bool = True
    """For a piece after a hyphenation point: whether that point is a compound's joint."""


HYPHEN_COST = 0.04
"""Cost of a hyphenated line end, against the squared slack (as a share of the width); twice
that inside a compound's part rather than at its joint."""
MIN_FRAGMENT = 3
"""Fewest letters of a broken word on either side of a break."""


def _fragments_ok(atoms: Sequence[Atom], i: int, j: int) -> bool:
    """Whether line ``atoms[i:j]`` keeps at least MIN_FRAGMENT letters of a word it breaks."""
    if atoms[i].joint:  # starts inside a word: its tail on this line
        k, n = i, 0
        while k < j and (k == i or atoms[k].joint):
            n += atoms[k].letters
            k += 1
        if n < MIN_FRAGMENT:
            return False
    if j < len(atoms) and atoms[j].joint:  # ends inside a word: its head on this line
        k, n = j - 1, 0
        while k >= i:
            n += atoms[k].letters
            if not atoms[k].joint:
                break
            k -= 1
        if n < MIN_FRAGMENT:
            return False
    return True


def break_atoms(atoms: Sequence[Atom], space: float, hyphen: float,
                limit: float) -> list[int] | None:
    """Line starts (indices into ``atoms``) for the fewest lines within ``limit`` and, among
    those, the most even lines with the fewest hyphens (least squared slack plus
    HYPHEN_COST per hyphen, doubled away from a compound's joints). None when some atom
    cannot be placed."""
    n = len(atoms)
    if n == 0:
        return []
    inf = (n + 1, 0.0)
    best: list[tuple[int, float]] = [(0, 0.0)] + [inf] * n
    prev = [0] * (n + 1)
    for j in range(1, n + 1):
        ends_hyphen = j < n and atoms[j].joint == "hyphen"
        tail = hyphen if ends_hyphen else 0.0
        used = 0.0
        for i in range(j - 1, -1, -1):
            used += atoms[i].width
            if i < j - 1 and atoms[i + 1].sep and not atoms[i + 1].joint:
                used += space
            if used + tail > limit:
                break
            if best[i][0] > n or not _fragments_ok(atoms, i, j):
                continue
            slack = (limit - used - tail) / limit
            cost = best[i][1] + slack * slack
            if ends_hyphen:
                cost += HYPHEN_COST if atoms[j].strong else 2 * HYPHEN_COST
            cand = (best[i][0] + 1, cost)
            if cand < best[j]:
                best[j], prev[j] = cand, i
    if best[n][0] > n:
        return None
    starts: list[int] = []
    j = n
    while j > 0:
        j = prev[j]
        starts.append(j)
    return starts[::-1]


def atom_lines(atoms: Sequence[Atom], starts: Sequence[int], mark: str) -> list[str]:
    """The text of each line from :func:`break_atoms`' starts; ``mark`` ends a line broken
    at a hyphenation point."""
    out: list[str] = []
    bounds = [*starts, len(atoms)]
    for a, b in pairwise(bounds):
        text = "".join(at.text if k == a or at.joint else at.sep + at.text
                       for k, at in enumerate(atoms[a:b], start=a))
        if b < len(atoms) and atoms[b].joint == "hyphen":
            text += mark
        out.append(text)
    return out
