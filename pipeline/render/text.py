"""Shaped, wrapped, fitted text: script detection, font fallback runs, balanced line breaks.

Measuring is pure (``fit_text`` returns a :class:`FittedText`); drawing is a separate step
(``FittedText.draw``). Shaping uses raqm, so Arabic joins, Hebrew and Arabic read right to
left, and accents and CJK render with a font that has their glyphs.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from PIL import ImageDraw

from .fonts import FontFace, fallback_chain, load_font

__all__ = [
    "FittedText",
    "Run",
    "Stamp",
    "clean_text",
    "clear_caches",
    "fit_text",
    "is_cjk",
    "paint",
    "paragraph_direction",
    "split_runs",
]

REF_SIZE = 100
_RTL = {"R", "AL"}
_NEUTRAL = {"WS", "ON", "CS", "ES", "ET", "EN", "AN", "BN", "NSM", "S", "B"}
_NO_LINE_START = set("、。，．・：；？！）」』】〕〉》ー…‥,.!?:;)]}”’%")
_NO_LINE_END = set("（「『【〔〈《([{“‘")
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
    return list(_split_runs(line, primary, para_dir))


@lru_cache(maxsize=4096)
def _split_runs(line: str, primary: FontFace, para_dir: str) -> tuple[Run, ...]:
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


@lru_cache(maxsize=8192)
def _ref_width(text: str, path: str, direction: str) -> float:
    return float(load_font(path, REF_SIZE).getlength(text, direction=direction))


def _runs_width(runs: list[Run], size: int) -> float:
    return sum(float(load_font(r.face.path, size).getlength(r.text, direction=r.direction))
               for r in runs)


def _tokens(paragraph: str) -> list[tuple[str, str]]:
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


@dataclass(frozen=True)
class FittedText:
    """Lines at a size, with everything needed to draw them."""

    lines: tuple[str, ...]
    size: int
    primary: FontFace
    direction: str
    line_gap: int
    ascent: int
    descent: int
    width: int
    line_widths: tuple[int, ...]

    @property
    def height(self) -> int:
        return self.ascent + self.descent + self.line_gap * (len(self.lines) - 1)

    def faces(self) -> list[str]:
        used = {r.face.name for line in self.lines
                for r in split_runs(line, self.primary, self.direction)}
        return sorted(used)

    def draw(self, draw: ImageDraw.ImageDraw, x: int, y: int, width: int, align: str,
             fill: tuple[int, int, int]) -> None:
        """Draw with the block's top-left at (x, y), lines aligned inside ``width``."""
        paint(draw, self.stamps(x, y, width, align), fill)

    def stamps(self, x: int, y: int, width: int, align: str) -> tuple[Stamp, ...]:
        """Rasterise every run (colour-free coverage masks) for the block's top-left at
        (x, y); ``paint`` then inks them. Same pixels as ``ImageDraw.text`` run by run."""
        out: list[Stamp] = []
        baseline = y + self.ascent
        for line, lw in zip(self.lines, self.line_widths, strict=True):
            if align == "center":
                cx: float = x + (width - lw) / 2
            elif align == "right":
                cx = x + width - lw
            else:
                cx = x
            for run in split_runs(line, self.primary, self.direction):
                mask, offset, advance = _raster(run.text, run.face.path, self.size,
                                                run.direction, math.modf(cx)[0],
                                                math.modf(baseline)[0])
                out.append(Stamp(mask, int(cx) + offset[0], int(baseline) + offset[1]))
                cx += advance
            baseline += self.line_gap
        return tuple(out)


@lru_cache(maxsize=96)
def _raster(text: str, path: str, size: int, direction: str, frac_x: float,
            frac_y: float) -> tuple[Any, tuple[int, int], float]:
    """One run's coverage mask, offset and advance (bounded LRU: re-renders of the same
    texts, e.g. a new palette or background, skip FreeType; masks are never written to)."""
    font = load_font(path, size)
    mask, offset = font.getmask2(text, "L", direction=direction, anchor="ls",
                                 start=(frac_x, frac_y))
    return mask, offset, float(font.getlength(text, direction=direction))


@dataclass(frozen=True)
class Stamp:
    """One rasterised run: an anti-aliased coverage mask (a Pillow core image) at (x, y)."""

    mask: Any
    x: int
    y: int


def paint(draw: ImageDraw.ImageDraw, stamps: Sequence[Stamp],
          fill: tuple[int, int, int], dy: int = 0) -> None:
    """Ink rasterised runs onto ``draw``'s image in ``fill`` (as ``ImageDraw.text`` does);
    the image holds the flyer's rows from ``dy`` down (a strip: Pillow clips the rest)."""
    ink = draw.draw.draw_ink(fill)
    height = draw.im.size[1]
    for st in stamps:
        top = st.y - dy
        if top < height and top + st.mask.size[1] > 0:
            draw.draw.draw_bitmap((st.x, top), st.mask, ink)


def _wrap(tokens: Sequence[tuple[str, str]], widths: Sequence[float], space: float,
          limit: float) -> list[list[int]] | None:
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


def _join(tokens: Sequence[tuple[str, str]], idx: list[int]) -> str:
    return "".join((tokens[i][1] if n else "") + tokens[i][0] for n, i in enumerate(idx))


def fit_text(text: str, primary: FontFace, width: int, max_lines: int, max_size: int,
             min_size: int, leading: float = 1.2) -> FittedText | None:
    """The largest size in [min_size, max_size] at which ``text`` wraps into ``width`` within
    ``max_lines`` lines, with balanced breaks; ``None`` if it does not fit even at min_size.

    Pure, so results are memoised (bounded LRU): a block is fitted at several scales per
    composition and the same texts come back on every re-render."""
    return _fit_text(text, primary, int(width), int(max_lines), int(max_size), int(min_size),
                     float(leading))


@dataclass(frozen=True)
class _Prepared:
    """Per-(text, face) work done once: direction, tokens and their widths at REF_SIZE."""

    direction: str
    tokens: tuple[tuple[tuple[str, str], ...], ...]
    widths: tuple[tuple[float, ...], ...]
    space: float


@lru_cache(maxsize=512)
def _prepare(text: str, primary: FontFace) -> _Prepared:
    direction = paragraph_direction(text)
    paragraphs = [p for p in text.split("\n") if p.strip()]
    tokens = tuple(tuple(_tokens(p)) for p in paragraphs)
    widths = tuple(
        tuple(sum(_ref_width(r.text, r.face.path, r.direction)
                  for r in _split_runs(t, primary, direction)) for t, _ in toks)
        for toks in tokens)
    return _Prepared(direction, tokens, widths, _ref_width(" ", primary.path, "ltr"))


def _line_count(prep: _Prepared, limit: float, max_lines: int) -> int | None:
    """Lines needed at ``limit`` (REF_SIZE units), None when a token is too wide or the
    lines exceed ``max_lines``."""
    n = 0
    for toks, ws in zip(prep.tokens, prep.widths, strict=True):
        lines = _wrap(toks, ws, prep.space, limit)
        if lines is None:
            return None
        n += len(lines)
        if n > max_lines:
            return None
    return n


@lru_cache(maxsize=1024)
def _fit_text(text: str, primary: FontFace, width: int, max_lines: int, max_size: int,
              min_size: int, leading: float) -> FittedText | None:
    prep = _prepare(text, primary)

    def fits(size: int) -> bool:
        return _line_count(prep, width * REF_SIZE / size, max_lines) is not None

    lo, hi = max(1, min_size), max(min_size, max_size)
    while True:
        if not fits(lo):
            return None
        best = lo
        a, b = lo + 1, hi
        while a <= b:
            mid = (a + b) // 2
            if fits(mid):
                best, a = mid, mid + 1
            else:
                b = mid - 1
        fitted = _finish(text, primary, best, width, leading)
        if fitted is not None:
            return fitted
        if best <= lo:
            return None
        hi = best - 1


@lru_cache(maxsize=4096)
def _line_width(line: str, primary: FontFace, direction: str, size: int) -> float:
    """Real shaped width of one line at ``size`` (its font runs summed)."""
    return _runs_width(list(_split_runs(line, primary, direction)), size)


@lru_cache(maxsize=1024)
def _finish(text: str, primary: FontFace, size: int, width: int,
            leading: float) -> FittedText | None:
    """Balance each paragraph's breaks at ``size`` and check real shaped widths."""
    prep = _prepare(text, primary)
    direction = prep.direction
    lines: list[str] = []
    limit = width * REF_SIZE / size
    for toks, ws in zip(prep.tokens, prep.widths, strict=True):
        greedy = _wrap(toks, ws, prep.space, limit)
        assert greedy is not None
        n = len(greedy)
        lo, hi = max(ws) if ws else 0.0, limit
        for _ in range(12):  # narrowest width that keeps the same number of lines
            mid = (lo + hi) / 2
            trial = _wrap(toks, ws, prep.space, mid)
            if trial is not None and len(trial) <= n:
                hi = mid
            else:
                lo = mid
        balanced = _wrap(toks, ws, prep.space, hi) or greedy
        lines.extend(_join(toks, idx) for idx in balanced)
    widths = []
    for line in lines:
        w = _line_width(line, primary, direction, size)
        if w > width:
            return None
        widths.append(round(w))
    faces = {r.face.path for line in lines for r in _split_runs(line, primary, direction)}
    ascent = max(load_font(p, size).getmetrics()[0] for p in faces | {primary.path})
    descent = max(load_font(p, size).getmetrics()[1] for p in faces | {primary.path})
    return FittedText(
        lines=tuple(lines), size=size, primary=primary, direction=direction,
        line_gap=max(1, round(size * leading)), ascent=ascent, descent=descent,
        width=max(widths) if widths else 0, line_widths=tuple(widths),
    )


def clear_caches() -> None:
    """Forget every memoised measurement and raster (benchmarks of the cold path)."""
    for cached in (_fit_text, _finish, _prepare, _line_width, _split_runs, _ref_width, _raster):
        cached.cache_clear()
