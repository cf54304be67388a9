"""Line breaking: split a paragraph into breakable tokens (CJK per character, with kinsoku),
wrap measured tokens greedily, and balance a paragraph's breaks so its lines come out even."""

from __future__ import annotations

from collections.abc import Sequence

from .scripts import is_cjk

__all__ = ["balance", "join_line", "tokenize", "wrap"]

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
