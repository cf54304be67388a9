"""Layouts are data: one JSON file per layout in ``pipeline/render/layouts/``.

A layout has a variant per orientation (portrait, square, landscape; a missing one falls back
to the nearest). A variant places *blocks* (stacks of text roles flowing top to bottom), the QR
code and the organiser's logo in boxes given as fractions ``[left, top, right, bottom]`` of the
format's safe area, plus optional *panels* (underlays) given as fractions of the whole canvas.
Regions of one variant never overlap, and every text role appears exactly once, so no field is
ever silently dropped. Adding a layout is adding a JSON file.

A variant also says where its text may go instead, so the composer can keep it off the picture's
subject: a block may list other ``anchors`` (a box and alignment each, by name; the block's own
box is its ``anchor``, "home" unless named), and ``"mirror": true`` allows the whole variant
flipped left to right. An :class:`Arrangement` picks one of each (``Variant.arrangements``
lists them all, home first; every combination is checked for overlaps when the file is read).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from functools import lru_cache
from itertools import product
from pathlib import Path
from typing import Any

from ..errors import InvalidRequest
from .formats import Format
from .geometry import FracBox

__all__ = [
    "HOME",
    "LAYOUT_DIR",
    "LAYOUT_NAMES",
    "TEXT_ROLES",
    "Anchor",
    "Arrangement",
    "Block",
    "Layout",
    "Panel",
    "Placement",
    "RoleStyle",
    "Variant",
    "get_layout",
    "list_layouts",
    "load_layout",
    "pixel_box",
]

LAYOUT_DIR = Path(__file__).with_name("layouts")
TEXT_ROLES = ("title", "subtitle", "date", "time", "venue", "metro", "description", "organiser")
ORIENTATIONS = ("portrait", "square", "landscape")
_FALLBACK = {
    "portrait": ("portrait", "square", "landscape"),
    "square": ("square", "portrait", "landscape"),
    "landscape": ("landscape", "square", "portrait"),
}
HOME = "home"
"""The name of a block's own position when the layout file does not name it."""


@dataclass(frozen=True)
class RoleStyle:
    """How one text role is set: font role, size range (fractions of the canvas's short side),
    most lines, leading, space above (fraction of its own size) and letter case."""

    font: str
    max_size: float
    min_size: float
    max_lines: int
    leading: float = 1.2
    gap: float = 0.3
    upper: bool = False


DEFAULT_STYLES: dict[str, RoleStyle] = {
    "title": RoleStyle("title", 0.125, 0.04, 3, 1.04, 0.0),
    "subtitle": RoleStyle("body_bold", 0.048, 0.026, 2, 1.18, 0.32),
    "date": RoleStyle("body_bold", 0.042, 0.024, 1, 1.15, 0.9),
    "time": RoleStyle("body", 0.036, 0.022, 1, 1.15, 0.22),
    "venue": RoleStyle("body", 0.034, 0.021, 2, 1.18, 0.22),
    "metro": RoleStyle("body", 0.031, 0.02, 1, 1.15, 0.22),
    "description": RoleStyle("body", 0.029, 0.019, 7, 1.32, 0.75),
    "organiser": RoleStyle("body_bold", 0.025, 0.017, 1, 1.15, 0.6),
}


def _flip(box: FracBox) -> FracBox:
    """A fractional box mirrored left to right."""
    return (1.0 - box[2], box[1], 1.0 - box[0], box[3])


_FLIP_ALIGN = {"left": "right", "right": "left", "center": "center"}


@dataclass(frozen=True)
class Panel:
    """An underlay in canvas fractions. ``style``: 'solid' (fixed area), 'card' (hugs the
    block's content, rounded) or 'band' (full width from the content to the canvas edge)."""

    style: str
    area: FracBox
    opacity: float
    block: str | None = None

    def mirrored(self) -> Panel:
        return replace(self, area=_flip(self.area))


@dataclass(frozen=True)
class Anchor:
    """Another place a block may take: its box (safe-area fractions) and alignment."""

    name: str
    box: FracBox
    align: str
    valign: str

    def mirrored(self) -> Anchor:
        return replace(self, box=_flip(self.box), align=_FLIP_ALIGN[self.align])


@dataclass(frozen=True)
class Block:
    id: str
    box: FracBox
    roles: tuple[str, ...]
    align: str
    valign: str
    anchor: str = HOME
    """The name of the place the block is at."""
    anchors: tuple[Anchor, ...] = ()
    """The other places it may move to."""

    def mirrored(self) -> Block:
        return replace(self, box=_flip(self.box), align=_FLIP_ALIGN[self.align],
                       anchors=tuple(a.mirrored() for a in self.anchors))

    def places(self) -> tuple[str, ...]:
        """The names of every place the block may take, its own first."""
        return (self.anchor, *(a.name for a in self.anchors))

    def at(self, name: str) -> Block:
        """The block moved to the anchor ``name`` (itself for its own)."""
        if name == self.anchor:
            return self
        for a in self.anchors:
            if a.name == name:
                home = Anchor(self.anchor, self.box, self.align, self.valign)
                rest = tuple(x for x in self.anchors if x.name != name)
                return replace(self, box=a.box, align=a.align, valign=a.valign, anchor=a.name,
                               anchors=(home, *rest))
        raise ValueError(f"block {self.id!r} has no anchor {name!r}; it has "
                         f"{', '.join(self.places())}")


@dataclass(frozen=True)
class Arrangement:
    """Where a variant's blocks go: ``mirror`` flips the variant left to right, ``moves``
    sends blocks (by id) to other anchors. The default arrangement is the layout as drawn."""

    mirror: bool = False
    moves: tuple[tuple[str, str], ...] = ()

    @property
    def changes(self) -> int:
        """How far it is from the layout as drawn: the mirror and each moved block."""
        return int(self.mirror) + len(self.moves)

    def describe(self) -> dict[str, object]:
        """For the manifest: mirrored or not, and each moved block's anchor."""
        return {"mirrored": self.mirror, "anchors": dict(self.moves)}


@dataclass(frozen=True)
class Placement:
    box: FracBox
    align: str
    valign: str

    def mirrored(self) -> Placement:
        return replace(self, box=_flip(self.box), align=_FLIP_ALIGN[self.align])


@dataclass(frozen=True)
class Variant:
    blocks: tuple[Block, ...]
    qr: Placement
    logo: Placement
    panels: tuple[Panel, ...]
    mirror: bool = False
    """The variant may also be used flipped left to right (``Arrangement.mirror``)."""

    def mirrored(self) -> Variant:
        """The variant flipped left to right, alignments swapped (for right-to-left titles:
        the text column, its edge and the reading start move to the right)."""
        return Variant(tuple(b.mirrored() for b in self.blocks), self.qr.mirrored(),
                       self.logo.mirrored(), tuple(p.mirrored() for p in self.panels),
                       self.mirror)

    def arrangements(self, mirror: bool | None = None) -> list[Arrangement]:
        """Every arrangement the variant allows, the layout as drawn first (then by how
        far each is from it). ``mirror`` False or True keeps only those (un)mirrored."""
        flips: tuple[bool, ...] = (False, True) if self.mirror else (False,)
        if mirror is not None:
            flips = (mirror,) if mirror in flips else ()
        movable = [b for b in self.blocks if b.anchors]
        out = []
        for flip in flips:
            for names in product(*(b.places() for b in movable)):
                moves = tuple((b.id, n) for b, n in zip(movable, names, strict=True)
                              if n != b.anchor)
                out.append(Arrangement(flip, moves))
        return sorted(out, key=lambda a: a.changes)

    def arranged(self, arrangement: Arrangement) -> Variant:
        """The variant with ``arrangement`` applied."""
        moves = dict(arrangement.moves)
        unknown = set(moves) - {b.id for b in self.blocks}
        if unknown:
            raise ValueError(f"no block {sorted(unknown)[0]!r} to move")
        out = replace(self, blocks=tuple(b.at(moves[b.id]) if b.id in moves else b
                                         for b in self.blocks))
        return out.mirrored() if arrangement.mirror else out


@dataclass(frozen=True)
class Layout:
    name: str
    label: str
    description: str
    variants: dict[str, Variant]
    styles: dict[str, RoleStyle]
    auto_penalty: float

    def variant(self, fmt: Format, mirror: bool = False) -> Variant:
        """The variant for ``fmt``'s orientation; ``mirror``: flipped left to right."""
        for key in _FALLBACK[fmt.orientation]:
            if key in self.variants:
                found = self.variants[key]
                return found.mirrored() if mirror else found
        raise AssertionError("validated layouts have at least one variant")

    def arrangements(self, fmt: Format, mirror: bool | None = None) -> list[Arrangement]:
        """``Variant.arrangements`` of ``fmt``'s variant."""
        return self.variant(fmt).arrangements(mirror)

    def arranged(self, fmt: Format, arrangement: Arrangement) -> Layout:
        """This layout with ``fmt``'s variant arranged (every orientation answers with it):
        what fitting and drawing take, the name unchanged."""
        if arrangement == Arrangement():
            return self
        found = self.variant(fmt).arranged(arrangement)
        return replace(self, variants={o: found for o in ORIENTATIONS})


def pixel_box(frac: FracBox, outer: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """Fractions of ``outer`` (l, t, r, b in px) to whole pixels."""
    left, top, right, bottom = outer
    w, h = right - left, bottom - top
    return (round(left + frac[0] * w), round(top + frac[1] * h),
            round(left + frac[2] * w), round(top + frac[3] * h))


def _box(raw: Any, where: str) -> FracBox:
    if not (isinstance(raw, list) and len(raw) == 4 and all(isinstance(v, (int, float))
                                                            for v in raw)):
        raise ValueError(f"{where}: box must be four numbers")
    left, top, right, bottom = (float(v) for v in raw)
    if not (0 <= left < right <= 1 and 0 <= top < bottom <= 1):
        raise ValueError(f"{where}: box {raw} must satisfy 0 <= l < r <= 1, 0 <= t < b <= 1")
    return (left, top, right, bottom)


def _overlap(a: FracBox, b: FracBox) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _align(raw: Any, where: str, allowed: tuple[str, ...]) -> str:
    if raw not in allowed:
        raise ValueError(f"{where}: {raw!r} is not one of {allowed}")
    return str(raw)


def _variant(raw: dict[str, Any], where: str) -> Variant:
    blocks = []
    for i, b in enumerate(raw["blocks"]):
        bw = f"{where}.blocks[{i}]"
        roles = tuple(b["roles"])
        align = _align(b.get("align", "left"), bw, ("left", "center", "right"))
        anchors = []
        for j, a in enumerate(b.get("anchors", [])):
            aw = f"{bw}.anchors[{j}]"
            anchors.append(Anchor(
                name=str(a["name"]), box=_box(a["box"], aw),
                align=_align(a.get("align", align), aw, ("left", "center", "right")),
                valign=_align(a.get("valign", "top"), aw, ("top", "center", "bottom"))))
        block = Block(
            id=str(b.get("id", f"block{i}")), box=_box(b["box"], bw), roles=roles,
            align=align,
            valign=_align(b.get("valign", "top"), bw, ("top", "center", "bottom")),
            anchor=str(b.get("anchor", HOME)), anchors=tuple(anchors))
        if len(set(block.places())) != len(block.places()):
            raise ValueError(f"{bw}: anchor names must differ, got {list(block.places())}")
        blocks.append(block)
    placements = {}
    for key in ("qr", "logo"):
        p = raw[key]
        placements[key] = Placement(
            _box(p["box"], f"{where}.{key}"),
            _align(p.get("align", "center"), f"{where}.{key}", ("left", "center", "right")),
            _align(p.get("valign", "center"), f"{where}.{key}", ("top", "center", "bottom")),
        )
    panels = []
    for i, p in enumerate(raw.get("panels", [])):
        pw = f"{where}.panels[{i}]"
        style = _align(p.get("style", "solid"), pw, ("solid", "card", "band"))
        opacity = float(p.get("opacity", 0.9))
        if not 0 < opacity <= 1:
            raise ValueError(f"{pw}: opacity must be in (0, 1]")
        area = _box(p.get("area", [0, 0, 1, 1]), pw)
        block = p.get("block")
        if style != "solid" and block not in {b.id for b in blocks}:
            raise ValueError(f"{pw}: a {style} panel needs the id of one of the blocks")
        panels.append(Panel(style, area, opacity, block))
    held = [r for b in blocks for r in b.roles]
    if sorted(held) != sorted(TEXT_ROLES):
        raise ValueError(f"{where}: blocks must hold each of {TEXT_ROLES} exactly once, "
                         f"got {held}")
    mirror = raw.get("mirror", False)
    if not isinstance(mirror, bool):
        raise ValueError(f"{where}.mirror: must be true or false, not {mirror!r}")
    variant = Variant(tuple(blocks), placements["qr"], placements["logo"], tuple(panels),
                      mirror)
    for arrangement in variant.arrangements(False):
        placed = variant.arranged(arrangement)
        regions = ([(b.id if b.anchor == HOME else f"{b.id} at {b.anchor}", b.box)
                    for b in placed.blocks]
                   + [(k, p.box) for k, p in placements.items()])
        for i, (na, a) in enumerate(regions):
            for nb, b2 in regions[i + 1:]:
                if _overlap(a, b2):
                    raise ValueError(f"{where}: regions {na!r} and {nb!r} overlap")
    return variant


def _parse(path: Path) -> Layout:
    raw = json.loads(path.read_text(encoding="utf-8"))
    name = path.stem
    if raw.get("name", name) != name:
        raise ValueError(f"{path.name}: 'name' must match the file name")
    variants = {k: _variant(v, f"{name}.{k}") for k, v in raw["variants"].items()
                if k in ORIENTATIONS}
    if not variants:
        raise ValueError(f"{path.name}: needs a portrait, square or landscape variant")
    styles = dict(DEFAULT_STYLES)
    for role, over in raw.get("styles", {}).items():
        if role not in DEFAULT_STYLES:
            raise ValueError(f"{path.name}: unknown role {role!r} in styles")
        base = DEFAULT_STYLES[role].__dict__ | over
        styles[role] = RoleStyle(**base)
    return Layout(name=name, label=str(raw["label"]), description=str(raw["description"]),
                  variants=variants, styles=styles,
                  auto_penalty=float(raw.get("auto_penalty", 0.0)))


def load_layout(path: Path) -> Layout:
    """Read and check one layout file (every arrangement its anchors allow included);
    ValueError says what is wrong and where."""
    return _parse(path)


@lru_cache(maxsize=1)
def _all_layouts() -> dict[str, Layout]:
    return {p.stem: _parse(p) for p in sorted(LAYOUT_DIR.glob("*.json"))}


LAYOUT_NAMES: tuple[str, ...] = tuple(_all_layouts())


def list_layouts() -> list[dict[str, str]]:
    """Every layout as plain data: name, label, description."""
    return [{"name": lay.name, "label": lay.label, "description": lay.description}
            for lay in _all_layouts().values()]


def get_layout(name: str) -> Layout:
    """The named layout; an unknown name raises InvalidRequest listing the valid ones."""
    key = (name or "").strip().lower()
    layouts = _all_layouts()
    if key not in layouts:
        raise InvalidRequest(
            f"Unknown layout {name!r}; use 'auto' or one of {', '.join(layouts)}.",
            field="layout",
        )
    return layouts[key]
