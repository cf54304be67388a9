"""Shaped, wrapped, fitted text: the largest size at which a text wraps into a box, with
balanced breaks, and its rasterised runs.

Measuring is pure (``fit_text`` returns a :class:`FittedText`); drawing is a separate step
(``FittedText.stamps`` rasterises, ``paint`` inks). Shaping uses raqm, so Arabic joins,
Hebrew and Arabic read right to left, and accents and CJK render with a font that has their
glyphs. Script detection and font runs live in :mod:`.scripts`, line breaking in
:mod:`.wrap`, break points inside words in :mod:`.hyphenate`; their public
names are re-exported here.

Whole words come first: a text is fitted at the largest size at which its words wrap whole.
Only when that size does not exist, or breaking the words that are wider than a line (at soft
hyphens, after hard ones, or at the language's hyphenation points) allows a size at least
two-thirds larger, are those words broken, with a hyphen drawn at each break; in languages that
write compounds as one word, at the compounds' joints when that costs little size.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from PIL import ImageDraw

from .fonts import FontFace, load_font
from .hyphenate import HYPHEN, SOFT_HYPHEN, split_word
from .scripts import Run, clean_text, is_cjk, paragraph_direction, split_runs, visual_runs
from .wrap import Atom, atom_lines, balance, break_atoms, join_line, tokenize, wrap

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
HYPHEN_GAIN = 0.6
"""Words are broken inside only when whole words fit at no size or at less than this share of
the size that breaking them allows: a title set two-thirds larger is worth a hyphen. Measured:
English titles whose words are merely long come out at 0.73-0.8 (kept whole: no
"Extraordi-|nary Cel-|ebrations"), German compounds at 0.4-0.57 (broken)."""
JOINT_SHARE = 0.75
"""Breaking compounds only at their joints wins when it keeps at least this share of the
size that breaking at any hyphenation point allows ("Frühjahrsgemeinschafts-|ausstellungs-"
over "Frühjahrsgemein-|schaftsausstel-")."""
WHOLE, JOINTS, ANY = 0, 1, 2
"""How words may break: never, at soft/hard hyphens and compound joints, at any point."""


@lru_cache(maxsize=8192)
def _ref_width(text: str, path: str, direction: str) -> float:
    return float(load_font(path, REF_SIZE).getlength(text, direction=direction))


def _runs_width(runs: list[Run], size: int) -> float:
    return sum(float(load_font(r.face.path, size).getlength(r.text, direction=r.direction))
               for r in runs)


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


def fit_text(text: str, primary: FontFace, width: int, max_lines: int, max_size: int,
             min_size: int, leading: float = 1.2,
             hyphenation: str | None = None) -> FittedText | None:
    """The largest size in [min_size, max_size] at which ``text`` wraps into ``width`` within
    ``max_lines`` lines, with balanced breaks; ``None`` if it does not fit even at min_size.
    ``hyphenation`` names pyphen's patterns for words too wide for a line (None: only soft
    and hard hyphens break a word); see the module's docstring for when words break.

    Pure, so results are memoised (bounded LRU): a block is fitted at several scales per
    composition and the same texts come back on every re-render."""
    return _fit_text(text, primary, int(width), int(max_lines), int(max_size), int(min_size),
                     float(leading), hyphenation)


@dataclass(frozen=True)
class _Prepared:
    """Per-(text, face, patterns) work done once: direction, tokens (soft hyphens removed) and
    their widths at REF_SIZE; the tokens as typed (``raw``) for cutting words into pieces."""

    direction: str
    tokens: tuple[tuple[tuple[str, str], ...], ...]
    widths: tuple[tuple[float, ...], ...]
    space: float
    hyphen: float
    raw: tuple[tuple[str, ...], ...]
    primary: FontFace
    patterns: str | None

    def pieces(self, para: int, index: int) -> tuple[Atom, ...] | None:
        """The pieces of one token as atoms, None when it cannot break inside."""
        raw = self.raw[para][index]
        if self.patterns is None and SOFT_HYPHEN not in raw and "-" not in raw:
            return None
        return _word_atoms(raw, self.tokens[para][index][1], self.primary, self.direction,
                           self.patterns)

    def overlong(self, limit: float) -> list[tuple[Atom, ...]]:
        """The pieces of every token wider than ``limit`` that can break."""
        out = []
        for p, ws in enumerate(self.widths):
            for i, w in enumerate(ws):
                pieces = self.pieces(p, i) if w > limit else None
                if pieces is not None:
                    out.append(pieces)
        return out


def _width(text: str, primary: FontFace, direction: str) -> float:
    return sum(_ref_width(r.text, r.face.path, r.direction)
               for r in visual_runs(text, primary, direction))


@lru_cache(maxsize=1024)
def _word_atoms(token: str, sep: str, primary: FontFace, direction: str,
                patterns: str | None) -> tuple[Atom, ...] | None:
    """The pieces of ``token`` (as typed) as atoms, or None when it cannot break inside;
    measured only for words found too wide for a line."""
    if direction != "ltr" or any(is_cjk(ch) for ch in token):
        return None
    pieces = split_word(token, patterns)
    if len(pieces.texts) < 2:
        return None
    atoms = []
    for n, piece in enumerate(pieces.texts):
        joint = "" if n == 0 else ("hyphen" if pieces.hyphen[n - 1] else "hard")
        atoms.append(Atom(piece, _width(piece, primary, direction), sep if n == 0 else "",
                          joint, sum(1 for ch in piece if ch.isalpha()),
                          n == 0 or pieces.strong[n - 1]))
    return tuple(atoms)


@lru_cache(maxsize=512)
def _prepare(text: str, primary: FontFace, patterns: str | None = None) -> _Prepared:
    direction = paragraph_direction(text)
    paragraphs = [p for p in text.split("\n") if p.strip()]
    typed = [[(t, sep) for t, sep in tokenize(p) if t.replace(SOFT_HYPHEN, "")]
             for p in paragraphs]
    tokens = tuple(tuple((t.replace(SOFT_HYPHEN, ""), sep) for t, sep in toks)
                   for toks in typed)
    widths = tuple(tuple(_width(t, primary, direction) for t, _ in toks) for toks in tokens)
    raw = tuple(tuple(t for t, _ in toks) for toks in typed)
    return _Prepared(direction, tokens, widths, _ref_width(" ", primary.path, "ltr"),
                     _width(HYPHEN, primary, "ltr"), raw, primary, patterns)


def _atoms(prep: _Prepared, para: int, limit: float, split: int) -> list[Atom]:
    """Paragraph ``para`` as atoms at ``limit``: words wider than the line in pieces (only
    at compound joints for ``split == JOINTS``)."""
    out: list[Atom] = []
    for i, ((tok, sep), w) in enumerate(zip(prep.tokens[para], prep.widths[para],
                                            strict=True)):
        pieces = prep.pieces(para, i) if w > limit and split != WHOLE else None
        if pieces is None:
            out.append(Atom(tok, w, sep))
            continue
        for atom in pieces:
            if split == JOINTS and atom.joint and not atom.strong:
                last = out[-1]
                out[-1] = Atom(last.text + atom.text, last.width + atom.width, last.sep,
                               last.joint, last.letters + atom.letters, last.strong)
            else:
                out.append(atom)
    return out


def _line_count(prep: _Prepared, limit: float, max_lines: int, split: int = WHOLE
                ) -> int | None:
    """Lines needed at ``limit`` (REF_SIZE units), None when a token is too wide or the
    lines exceed ``max_lines``. ``split``: how words wider than a line may break."""
    n = 0
    for p, (toks, ws) in enumerate(zip(prep.tokens, prep.widths, strict=True)):
        if split != WHOLE:
            starts = break_atoms(_atoms(prep, p, limit, split), prep.space, prep.hyphen, limit)
            count = None if starts is None else len(starts)
        else:
            lines = wrap(toks, ws, prep.space, limit)
            count = None if lines is None else len(lines)
        if count is None:
            return None
        n += count
        if n > max_lines:
            return None
    return n


@lru_cache(maxsize=1024)
def _fit_text(text: str, primary: FontFace, width: int, max_lines: int, max_size: int,
              min_size: int, leading: float, patterns: str | None = None) -> FittedText | None:
    prep = _prepare(text, primary, patterns)
    lo, hi = max(1, min_size), max(min_size, max_size)
    whole = _search(text, primary, width, max_lines, lo, hi, leading, patterns, WHOLE)
    if whole is not None and whole.size >= hi:
        return whole
    # only words wider than a line break, and the line is narrowest at the largest size
    breakable = prep.overlong(width * REF_SIZE / hi)
    if not breakable:
        return whole
    start = whole.size + 1 if whole else lo
    split = _search(text, primary, width, max_lines, start, hi, leading, patterns, ANY)
    if split is None or (whole is not None and whole.size >= HYPHEN_GAIN * split.size):
        return whole
    if any(not atom.strong for pieces in breakable for atom in pieces):
        joints = _search(text, primary, width, max_lines,
                         max(start, math.ceil(JOINT_SHARE * split.size)), split.size, leading,
                         patterns, JOINTS)
        if joints is not None:
            return joints
    return split


def _search(text: str, primary: FontFace, width: int, max_lines: int, lo: int, hi: int,
            leading: float, patterns: str | None, split: int) -> FittedText | None:
    """The largest size in [lo, hi] that fits with words broken as ``split`` allows."""
    prep = _prepare(text, primary, patterns)

    def fits(size: int) -> bool:
        return _line_count(prep, width * REF_SIZE / size, max_lines, split) is not None

    while True:
        if lo > hi or not fits(lo):
            return None
        best = lo
        a, b = lo + 1, hi
        while a <= b:
            mid = (a + b) // 2
            if fits(mid):
                best, a = mid, mid + 1
            else:
                b = mid - 1
        fitted = _finish(text, primary, best, width, leading, patterns, split)
        if fitted is not None:
            return fitted
        if best <= lo:
            return None
        hi = best - 1


@lru_cache(maxsize=4096)
def _line_width(line: str, primary: FontFace, direction: str, size: int) -> float:
    """Real shaped width of one line at ``size`` (its font runs summed)."""
    return _runs_width(list(visual_runs(line, primary, direction)), size)


@lru_cache(maxsize=1024)
def _finish(text: str, primary: FontFace, size: int, width: int, leading: float,
            patterns: str | None = None, split: int = WHOLE) -> FittedText | None:
    """Balance each paragraph's breaks at ``size`` and check real shaped widths."""
    prep = _prepare(text, primary, patterns)
    direction = prep.direction
    lines: list[str] = []
    limit = width * REF_SIZE / size
    for p, (toks, ws) in enumerate(zip(prep.tokens, prep.widths, strict=True)):
        atoms = _atoms(prep, p, limit, split)
        if any(a.joint for a in atoms):
            starts = break_atoms(atoms, prep.space, prep.hyphen, limit)
            if starts is None:
                return None
            lines.extend(atom_lines(atoms, starts, HYPHEN))
        else:
            lines.extend(join_line(toks, idx) for idx in balance(toks, ws, prep.space, limit))
    widths = []
    for line in lines:
        w = _line_width(line, primary, direction, size)
        if w > width:
            return None
        widths.append(round(w))
    faces = {r.face.path for line in lines for r in visual_runs(line, primary, direction)}
    ascent = max(load_font(p, size).getmetrics()[0] for p in faces | {primary.path})
    descent = max(load_font(p, size).getmetrics()[1] for p in faces | {primary.path})
    return FittedText(
        lines=tuple(lines), size=size, primary=primary, direction=direction,
        line_gap=max(1, round(size * leading)), ascent=ascent, descent=descent,
        width=max(widths) if widths else 0, line_widths=tuple(widths),
    )


def clear_caches() -> None:
    """Forget every memoised measurement and raster (benchmarks of the cold path)."""
    for cached in (_fit_text, _finish, _prepare, _line_width, visual_runs, _ref_width, _raster,
                   split_word, _word_atoms):
        cached.cache_clear()
