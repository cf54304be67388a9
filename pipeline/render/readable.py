"""Make every text block legible with the lightest hand that works, measured on real pixels.

Per block, first a plain text colour (white, near-black or a brand colour) on the picture as
it is. Blocks no colour carries get a backdrop, one style for the whole flyer: a gradient
scrim that hugs the lines (one scrim for all such blocks, so two blocks never get two greys),
or, on busy texture where a scrim would have to be heavy, frosted panels. Dark or light,
whichever needs less. Then every block is measured again on the final surface (a neighbour's
scrim may have reached it) and fixed if it slipped; the title takes a brand accent when that
still reads. All contrast figures are the worst case (10th percentile) of the pixels under
each box, the metro icon's box included.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..colours import RGB, parse_hex
from .backdrops import (
    MARGIN,
    Backdrop,
    Candidate,
    Target,
    build_backdrop,
)
from .blocks import METRO_LOGO_GAP, PlacedText
from .formats import Format
from .geometry import Box
from .legibility import (
    LARGE_TEXT,
    NEAR_BLACK,
    NORMAL_TEXT,
    WHITE,
    Surface,
    is_large_text,
    luminance,
)
from .tones import Hue, backdrop_colour

__all__ = ["Block", "Inks", "decide_inks", "line_boxes", "threshold"]

LIGHT_SCRIM_MEAN = 0.3
"""A light scrim is only tried where the picture under the text is at least this light."""
FROST_FROM = 0.9
"""On a calm picture, frosted panels are only tried when a scrim would need this opacity."""
EASY_SCRIM = 0.5
"""On a calm picture a dark scrim this light is taken without trying anything else."""
EASY_FROST = 0.3
"""On busy texture a frosted panel this light (tint plus handicap) is taken at once."""
BUSY_TEXTURE = 0.09
"""Texture (see ``_Planner.texture``) from which frosted panels are always considered."""
ACCENT_ALLOWANCE = 0.3
"""How much stronger a backdrop may get so that the title can keep the brand colour."""
FROST_COST = 0.25
"""On a calm picture a frosted panel must need this much less tint than a scrim to win."""
FROST_COST_BUSY = -0.1
"""On busy texture the handicap turns into a head start: blurring is what such a picture
needs, so a frosted panel wins even when it needs a little more tint than a scrim."""


def threshold(item: PlacedText, fmt: Format) -> float:
    return LARGE_TEXT if is_large_text(item.fitted.size, item.bold, fmt) else NORMAL_TEXT


def line_boxes(item: PlacedText) -> list[Box]:
    """The box of each drawn line (ascent to descent, as wide as the line): the pixels a
    reader's eye meets, which backdrops hug and contrast is measured on."""
    f = item.fitted
    x = item.box[0]
    if item.metro_logo_box is not None and f.direction == "ltr":
        x += item.metro_logo_box[2] - item.metro_logo_box[0] + round(f.size * METRO_LOGO_GAP)
    out: list[Box] = []
    for n, width in enumerate(f.line_widths):
        left = {"center": x + (f.width - width) // 2,
                "right": x + f.width - width}.get(item.align, x)
        top = item.box[1] + n * f.line_gap
        out.append((left, top, left + max(1, width), top + f.ascent + f.descent))
    return out


@dataclass(frozen=True)
class Block:
    """A block to make legible: its id, its placed texts and whether it sits on a panel."""

    id: str
    items: list[PlacedText]
    on_panel: bool


@dataclass
class Inks:
    """What ``decide_inks`` decided: per role the colour, measured contrast and treatment;
    the backdrops in drawing order, and which block each covers."""

    colours: dict[str, RGB] = field(default_factory=dict)
    contrast: dict[str, float] = field(default_factory=dict)
    treatment: dict[str, str] = field(default_factory=dict)
    logo_contrast: dict[str, float] = field(default_factory=dict)
    backdrops: list[tuple[list[str], Backdrop]] = field(default_factory=list)


class _Planner:
    def __init__(self, surface: Surface, fmt: Format, palette: tuple[str, ...],
                 tone: Callable[[], Hue], pad: int) -> None:
        self.surface, self.fmt, self.tone, self.pad = surface, fmt, tone, pad
        self.brand = [parse_hex(c) for c in palette]
        self.size = (fmt.width, fmt.height)
        self.short = min(fmt.width, fmt.height)
        self.tried: dict[tuple[str, bool, tuple[Target, ...]], Candidate] = {}

    def targets(self, block: Block) -> list[Target]:
        out: list[Target] = []
        for item in block.items:
            out.extend((box, threshold(item, self.fmt)) for box in line_boxes(item))
            if item.metro_logo_box is not None:  # the icon reads with its station name
                out.append((item.metro_logo_box, threshold(item, self.fmt)))
        return out

    def margin(self, colour: RGB, targets: list[Target]) -> float:
        """``backdrops.margin_of`` on the surface as it is (its answers remembered)."""
        return min(self.surface.worst_contrast(colour, box) / thr for box, thr in targets)

    def plain(self, block: Block) -> tuple[RGB, float]:
        """The text colour that reads best on the surface as it is, and its margin."""
        targets = self.targets(block)
        ranked = [(self.margin(c, targets), -n, c)
                  for n, c in enumerate([WHITE, NEAR_BLACK, *self.brand])]
        best, _, colour = max(ranked)
        return colour, best

    def candidate(self, kind: str, dark: bool, targets: list[Target]) -> Candidate:
        """A backdrop candidate on the surface as it is now (remembered until a backdrop is
        committed: trying a style, then covering with it, builds it once)."""
        key = (kind, dark, tuple(targets))
        if key not in self.tried:
            colour = backdrop_colour(self.tone, dark)
            self.tried[key] = build_backdrop(kind, self.surface, targets, colour, dark,
                                             self.pad, self.short, self.size)
        return self.tried[key]

    def texture(self, targets: list[Target]) -> float:
        """How busy the picture is under ``targets``: mean step between neighbouring pixels
        of (roughly perceptual) lightness; ~0.03-0.07 for photographs, above 0.09 for grass,
        gravel or noise."""
        steps, count = 0.0, 0
        for box, _ in targets:
            light = np.sqrt(self.surface.luminance(box))
            if light.shape[0] < 2 or light.shape[1] < 2:
                continue
            grad = (np.abs(np.diff(light, axis=0))[:, :-1]
                    + np.abs(np.diff(light, axis=1))[:-1])
            steps += float(grad.sum())
            count += grad.size
        return steps / count if count else 0.0

    def style(self, blocks: list[Block]) -> tuple[str, bool]:
        """One backdrop style for every block that needs one: the lightest that works. A
        scrim keeps the picture; on busy texture a frosted panel, which calms it, wins
        unless it needs clearly more tint."""
        joint = [t for b in blocks for t in self.targets(b)]
        busy = self.texture(joint) >= BUSY_TEXTURE
        light = min(float(self.surface.luminance(box).mean()) for box, _ in joint)
        tones = (True, False) if light >= LIGHT_SCRIM_MEAN else (True,)
        costs: dict[tuple[str, bool], float] = {}

        def scrims() -> None:
            for dark in tones:
                weakest, reached = self.candidate("scrim", dark, joint).weakest()
                costs[("scrim", dark)] = weakest if reached >= MARGIN else 9.0
                if dark and costs[("scrim", True)] <= EASY_SCRIM and not busy:
                    return

        def frosts() -> None:
            for dark in tones:
                worst = 0.0
                for block in blocks:
                    weakest, reached = self.candidate("frosted", dark,
                                                      self.targets(block)).weakest()
                    worst = max(worst, weakest if reached >= MARGIN else 9.0)
                costs[("frosted", dark)] = worst + (FROST_COST_BUSY if busy else FROST_COST)

        if busy:  # texture: frosting first, and a light one settles it
            frosts()
            if min(costs.values()) > EASY_FROST:
                scrims()
        else:
            scrims()
            if min(costs.values()) >= FROST_FROM:
                frosts()
        order = [("scrim", True), ("scrim", False), ("frosted", True), ("frosted", False)]
        return min(costs, key=lambda k: (costs[k], order.index(k)))

    def cover(self, blocks: list[Block], kind: str, dark: bool, out: Inks) -> None:
        """Give ``blocks`` backdrops of one style (a joint scrim, or a card each with the
        same tint) and white or near-black text on them; the title in a brand accent when a
        little more strength (ACCENT_ALLOWANCE) makes it read."""
        groups = [blocks] if kind == "scrim" else [[b] for b in blocks]
        text = WHITE if dark else NEAR_BLACK
        accent = self.backdrop_accent(dark)
        plans: list[tuple[list[Block], list[Target], list[RGB], float]] = []
        for group in groups:
            targets, roles = self.labelled(group)
            plain = [text] * len(targets)
            opacity = self.candidate(kind, dark, targets).weakest()[0]
            if accent is not None and "title" in roles:
                inks = [accent if r == "title" else text for r in roles]
                stronger, reached = self.candidate(kind, dark, targets).with_inks(
                    inks).weakest()
                if reached >= MARGIN and stronger <= opacity + ACCENT_ALLOWANCE + 1e-6:
                    plain, opacity = inks, stronger
            plans.append((group, targets, plain, opacity))
        opacity = max(p[3] for p in plans)
        for group, targets, inks, _ in plans:
            backdrop = self.candidate(kind, dark, targets).commit(opacity, self.size)
            self.tried.clear()  # the surface changed: later candidates start afresh
            out.backdrops.append(([b.id for b in group], backdrop))
            for block in group:
                for item in block.items:
                    out.colours[item.role] = text
                    out.treatment[item.role] = kind
            if accent is not None and accent in inks:
                out.colours["title"] = accent

    def labelled(self, blocks: list[Block]) -> tuple[list[Target], list[str]]:
        """The blocks' targets and the role each belongs to."""
        targets: list[Target] = []
        roles: list[str] = []
        for block in blocks:
            for item in block.items:
                mine = self.targets(Block(block.id, [item], block.on_panel))
                targets.extend(mine)
                roles.extend([item.role] * len(mine))
        return targets, roles

    def backdrop_accent(self, dark: bool) -> RGB | None:
        """The first brand colour that stands out from a dark (or light) backdrop."""
        for colour in self.brand:
            lum = luminance(colour)
            if (lum >= 0.18) if dark else (lum <= 0.1):
                return colour
        return None

    def accent(self, block: Block, underlay: RGB | None, out: Inks) -> None:
        """The title in the first brand colour that still reads where it is."""
        for item in block.items:
            if item.role != "title":
                continue
            need = threshold(item, self.fmt) * MARGIN
            for accent in self.brand:
                if accent == underlay and block.on_panel:
                    continue
                if all(self.surface.worst_contrast(accent, box) >= need
                       for box in line_boxes(item)):
                    out.colours["title"] = accent
                    break


def decide_inks(surface: Surface, fmt: Format, palette: tuple[str, ...],
                tone: Callable[[], Hue], underlay: RGB | None, blocks: list[Block],
                pad: int) -> Inks:
    """Text colours, backdrops (mirrored onto ``surface``) and measured contrast for every
    placed text, block by block."""
    planner = _Planner(surface, fmt, palette, tone, pad)
    out = Inks()
    need: list[Block] = []
    for block in blocks:
        colour, reached = planner.plain(block)
        if reached >= MARGIN:
            out.colours.update({i.role: colour for i in block.items})
        else:
            need.append(block)
    kind, dark = ("scrim", True)
    if need:
        kind, dark = planner.style(need)
        planner.cover(need, kind, dark, out)
    covered = {b.id for b in need}
    for _ in range(3):  # a neighbour's backdrop may have reached a plain block: re-check
        slipped = [b for b in blocks if b.id not in covered
                   and planner.margin(out.colours[b.items[0].role],
                                      planner.targets(b)) < MARGIN]
        fixed: list[Block] = []
        for block in slipped:
            colour, reached = planner.plain(block)
            if reached >= MARGIN:
                out.colours.update({i.role: colour for i in block.items})
            else:
                fixed.append(block)
        if not fixed:
            break
        planner.cover(fixed, kind, dark, out)
        covered.update(b.id for b in fixed)
    for block in blocks:
        planner.accent(block, underlay, out)
        for item in block.items:
            colour = out.colours[item.role]
            out.contrast[item.role] = min(surface.worst_contrast(colour, box)
                                          for box in line_boxes(item))
            if item.metro_logo_box is not None:
                out.logo_contrast[item.role] = surface.worst_contrast(
                    colour, item.metro_logo_box)
            if item.role in out.treatment:
                continue
            preferred = (planner.brand[0] if planner.brand and item.role == "title"
                         else WHITE)
            out.treatment[item.role] = ("panel" if block.on_panel
                                        else "none" if colour == preferred else "recolour")
    return out
