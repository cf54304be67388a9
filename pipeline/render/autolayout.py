"""Plan the picture and the layout together: every layout (``auto``) or the named one, each
in every placement its data allows (``Layout.arrangements``: mirrored, blocks at other
anchors) and with the focal crops worth trying, scored by ``score.score`` plus what the crop
costs; the lowest total wins. Scores use the layouts' regions before any text is fitted (an
upper bound of what the flyer covers), so the background can start resizing at once.

Cost: the picture is seen through each crop once per grid (``_Views``), every crop of a
placement is scored in one pass (``score.score_many``), and a placement whose cheapest
possible total (the crop's own cost, the hidden share, the layout's penalty, its moves and
how much it squeezes the title: terms no crop can lower) cannot beat the layout's best so
far is not scored at all."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from .focal import SrcBox, crop_candidates, fractions
from .formats import Format
from .geometry import Box, FracBox
from .layouts import LAYOUT_NAMES, Arrangement, Layout, get_layout
from .score import (
    WEIGHTS,
    Candidate,
    CropStack,
    crop_terms,
    grid_size,
    planned,
    score_many,
    seams,
    total,
)
from .subject import Subject, resample_many

__all__ = ["Choice", "choose_layout", "edge_energy", "rank_layouts"]

ENERGY_SIDE = 96
CLOSE = 0.1
"""``auto`` picks among the layouts whose total is within this of the best ..."""
OCC_SLACK = 0.1
"""... that cover no more of any face than the best and at most this much more of the
salient mass (Occ, weighted by the picture's presence): the pick among them is seeded by
the picture, the format and the text, so one choice no longer wins every close call."""


def edge_energy(image: Image.Image,
                box: tuple[float, float, float, float] | None = None) -> np.ndarray:
    """Gradient magnitude of a small greyscale copy of ``image`` (or of its ``box``, the
    region a canvas is cover-fitted from), values ~0 calm .. ~0.3 very busy."""
    src = box if box is not None else (0.0, 0.0, float(image.width), float(image.height))
    w, h = src[2] - src[0], src[3] - src[1]
    scale = ENERGY_SIDE / max(w, h)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = image
    if scale < 1:  # area average first: a big upload is never converted whole
        small = small.resize(size, Image.Resampling.BOX, box=src, reducing_gap=2.0)
    elif box is not None:
        small = small.crop((round(src[0]), round(src[1]), round(src[2]), round(src[3])))
    small = small.convert("L") if small.mode != "L" else small
    if min(small.size) < 2:  # a 1-px strip: np.gradient needs 2 along each axis
        small = small.resize((max(2, small.width), max(2, small.height)),
                             Image.Resampling.NEAREST)
    grey = np.asarray(small, dtype=np.float32) / 255.0
    gy, gx = np.gradient(grey)
    out: np.ndarray = np.hypot(gx, gy)
    return out


@dataclass(frozen=True)
class Choice:
    """The layout (arranged: ``placement`` applied), the source crop (px), where the picture
    lies on the canvas, and why."""

    layout: Layout
    crop: SrcBox
    zoom: float
    picture: Box
    terms: dict[str, float]
    view: Subject
    """The subject as ``crop`` shows it on the picture's scoring grid (``score.grid_size``),
    as the scores saw it: the manifest's coverage is measured on it."""
    scores: dict[str, dict[str, float]] = field(default_factory=dict)
    reason: dict[str, object] = field(default_factory=dict)
    placement: Arrangement = field(default_factory=Arrangement)


_CROP_TERMS = ("cut", "trim", "lost", "part", "zoom", "shift", "backdrop")


@dataclass
class _Views:
    """The subject and the edge energy as each crop shows them, all crops of one grid
    resampled in one pass, plus what each crop costs."""

    subject: Subject
    energy: np.ndarray
    size: tuple[int, int]
    seen: dict[tuple[SrcBox, tuple[int, int]], tuple[Subject, np.ndarray]] = field(
        default_factory=dict)
    costs: dict[tuple[SrcBox, float], dict[str, float]] = field(default_factory=dict)
    stacks: dict[tuple[tuple[SrcBox, ...], tuple[int, int]],
                 tuple[CropStack, np.ndarray, np.ndarray]] = field(default_factory=dict)

    def prepare(self, crops: Sequence[SrcBox], grid: tuple[int, int]) -> None:
        todo = [c for c in crops if (c, grid) not in self.seen]
        if not todo:
            return
        fracs = [fractions(c, self.size) for c in todo]
        subjects = self.subject.reframe_many(fracs, grid)
        energies = resample_many(self.energy, fracs, grid)
        for crop, frac, seen, surface in zip(todo, fracs, subjects, energies, strict=True):
            self.seen[(crop, grid)] = (seen, _with_edges(surface, frac))

    def get(self, crop: SrcBox, grid: tuple[int, int]) -> tuple[Subject, np.ndarray]:
        self.prepare([crop], grid)
        return self.seen[(crop, grid)]

    def cost(self, crop: SrcBox, zoom: float) -> dict[str, float]:
        key = (crop, zoom)
        if key not in self.costs:
            self.costs[key] = crop_terms(self.subject, fractions(crop, self.size), zoom)
        return self.costs[key]

    def stack(self, crops: Sequence[tuple[SrcBox, float]], grid: tuple[int, int]
              ) -> tuple[CropStack, np.ndarray, np.ndarray]:
        """The crops' views stacked for ``score_many``, each crop's own weighted cost (cut,
        trim, lost, zoom, shift) and the picture's presence as each crop shows it, built once
        per crop list and grid."""
        key = (tuple(c for c, _ in crops), grid)
        if key not in self.stacks:
            self.prepare([c for c, _ in crops], grid)
            views = [self.seen[(c, grid)] for c, _ in crops]
            stack = CropStack.of([v[0] for v in views], [v[1] for v in views],
                                 [fractions(c, self.size) for c, _ in crops])
            own = np.asarray([total({k: v for k, v in self.cost(c, z).items()
                                     if k in _CROP_TERMS or k == "presence"})
                              for c, z in crops], dtype=np.float64)
            presence = np.asarray([self.cost(c, z)["presence"] for c, z in crops])
            self.stacks[key] = (stack, own, presence)
        return self.stacks[key]


EDGE_ENERGY = 0.5
"""A filled crop's picture edge as the scores see it: as busy as a sharp detail, so text
keeps off the line where the picture meets its backdrop."""
EDGE_CELLS = 2
"""Cells each side of that line marked (a grid is 64 cells long: ~3 % of the canvas)."""


def _with_edges(surface: np.ndarray, crop: FracBox) -> np.ndarray:
    """``surface`` (a crop's energy grid) with the picture's edges marked where ``crop``
    reaches beyond the picture (``focal``'s filled crops; unchanged otherwise)."""
    lines = seams(crop)
    cuts = [(axis, min(n - 1, int(at * n)))
            for axis, n in enumerate(surface.shape) for at in lines[axis] if not np.isnan(at)]
    if not cuts:
        return surface
    out = surface.copy()
    for axis, at in cuts:
        rows = slice(max(0, at - EDGE_CELLS), at + EDGE_CELLS + 1)
        if axis == 0:
            out[rows, :] = np.maximum(out[rows, :], EDGE_ENERGY)
        else:
            out[:, rows] = np.maximum(out[:, rows], EDGE_ENERGY)
    return out


def _best_crop(candidate: Candidate, views: _Views, crops: Sequence[tuple[SrcBox, float]],
               placing: dict[str, float]) -> tuple[float, SrcBox, float, dict[str, float]]:
    """The candidate's best crop (all crops scored at once by ``score.score_many``, whose
    terms are ``score.score``'s), its total and its terms; ``placing``: what the placement
    itself costs (``moved``, ``squeeze``)."""
    grid = grid_size(candidate.picture)
    stack, own, presence = views.stack(crops, grid)
    many = score_many(candidate, stack)
    values = own + total(many | {"presence": presence}) + WEIGHTS["penalty"] * candidate.penalty
    values = values + total(placing)
    index = int(np.flatnonzero(values <= values.min() + 1e-9)[0])
    crop, zoom = crops[index]
    terms = views.cost(crop, zoom) | {k: float(v[index]) for k, v in many.items()}
    terms["penalty"] = candidate.penalty
    terms |= placing
    return total(terms), crop, zoom, terms


def _floor(candidate: Candidate, own: float, placing: dict[str, float]) -> float:
    """The least total any crop could give the candidate: the cheapest crop's own cost, the
    share of the canvas the picture leaves (a split layout's panel), the layout's penalty,
    what the placement costs (moves, the title squeezed); faces, Occ and Rea are at least
    0."""
    pic = candidate.picture
    hidden = 1.0 - (pic[2] - pic[0]) * (pic[3] - pic[1]) / (candidate.size[0] *
                                                            candidate.size[1])
    return (own + WEIGHTS["hidden"] * hidden + WEIGHTS["penalty"] * candidate.penalty
            + total(placing))


def _seed(subject: Subject, fmt: Format, content: Mapping[str, str]) -> int:
    """A number fixed by the picture (its stored saliency grid and boxes), the format and
    the flyer's text: the same inputs always vary the same way (compose stays pure)."""
    h = hashlib.blake2b(digest_size=8)
    h.update(subject.encode(extent=False))  # the seeds of flyers made before it was measured
    h.update(fmt.name.encode())
    for key in sorted(content):
        h.update(f"{key}={content[key]}".encode())
    return int.from_bytes(h.digest(), "big")


def _vary(found: list[Any], seed: int) -> tuple[list[Any], list[str]]:
    """``found`` (sorted, best first) with one of the close layouts moved to the front:
    those whose best placement totals within ``CLOSE`` of the best, covers no more of any
    face (bound and estimate) and at most ``OCC_SLACK`` more of the salient mass, and of the
    main object's extent (``object``: its faint parts, a motorcycle's tyres); which one by
    ``seed``. Returns the new order and the close layouts' names."""
    best_terms = found[0][8]

    def more(terms: dict[str, float], key: str) -> float:
        """How much more of the subject (``occ``, ``object``, weighted by the picture's
        presence) ``terms`` cover than the best does."""
        def weighted(t: dict[str, float]) -> float:
            return t.get(key, 0.0) * t.get("presence", 1.0)

        return weighted(terms) - weighted(best_terms)

    close: list[str] = []
    for value, name, *_rest in found:
        terms = _rest[-1]
        if name in close or value > found[0][0] + CLOSE:
            continue
        if (terms["faces"] <= best_terms["faces"] + 1e-9
                and terms["faces_likely"] <= best_terms["faces_likely"] + 1e-9
                and more(terms, "occ") <= OCC_SLACK
                and more(terms, "object") <= OCC_SLACK):
            close.append(name)
    if len(close) < 2:
        return found, close
    pick = close[seed % len(close)]
    first = next(i for i, f in enumerate(found) if f[1] == pick)
    return [found[first], *found[:first], *found[first + 1:]], close


def rank_layouts(background: Image.Image, fmt: Format, subject: Subject,
                 content: Mapping[str, str], names: Sequence[str] | None = None,
                 mirror: bool = False) -> list[Choice]:
    """Every layout among ``names`` (all layouts: ``auto``) in every placement it allows,
    each with its best crop for this background and what the flyer holds (``content``: each
    filled text role's text, 'qr' and 'logo' when it has them), best first. ``mirror``: a
    right-to-left title flips the layout, so placements are the unmirrored ones, scored
    flipped. Each choice carries every layout's best terms (``scores``) and the reason it
    would be picked; a placement that cannot beat its layout's best is left out."""
    auto = names is None
    pool = tuple(LAYOUT_NAMES if names is None else names)
    energy = edge_energy(background)
    views = _Views(subject, energy, background.size)
    crops_for: dict[tuple[int, int], list[tuple[SrcBox, float]]] = {}
    found: list[tuple[float, str, int, Layout, Arrangement, Box, SrcBox, float,
                      dict[str, float]]] = []
    best: dict[str, tuple[float, dict[str, float]]] = {}
    tried = pruned = 0
    for name in pool:
        layout = get_layout(name)
        as_drawn = 0.0
        for order, arrangement in enumerate(layout.arrangements(fmt, False if mirror else None)):
            placed = layout.arranged(fmt, arrangement)
            candidate = planned(placed, fmt, content, mirror)
            if not order:  # the layout as drawn comes first
                as_drawn = candidate.shrink
            placing = {"moved": float(arrangement.changes),
                       "squeeze": round(max(0.0, candidate.shrink - as_drawn), 4)}
            pic = candidate.picture
            target = (pic[2] - pic[0], pic[3] - pic[1])
            if target not in crops_for:
                crops_for[target] = crop_candidates(background.size, target, subject)
            crops = crops_for[target]
            if name in best:
                own = views.stack(crops, grid_size(pic))[1]
                if _floor(candidate, float(own.min()), placing) >= best[name][0]:
                    pruned += 1
                    continue
            tried += 1
            value, crop, zoom, terms = _best_crop(candidate, views, crops, placing)
            found.append((value, name, order, placed, arrangement, pic, crop, zoom, terms))
            if name not in best or value < best[name][0] - 1e-9:
                best[name] = (value, terms)
    found.sort(key=lambda f: (round(f[0], 5), f[1], f[2]))
    varied: list[str] = []
    if auto and found:
        found, varied = _vary(found, _seed(subject, fmt, content))
    scores = {n: {k: round(v, 4) for k, v in best[n][1].items()} | {"total": round(best[n][0], 4)}
              for n in pool}
    searched = {"placements_scored": tried, "placements_pruned": pruned}
    out = []
    for rank, (_, name, _, placed, arrangement, pic, crop, zoom, terms) in enumerate(found):
        reason: dict[str, object]
        if auto:
            reason = {
                "mode": "auto",
                "chosen": name,
                "why": "its text, panels, QR code and logo cover the least of the picture's "
                       "subject (faces first, whatever a panel's opacity) and sit on the "
                       "calmest part of it; each layout is also tried mirrored and with its "
                       "blocks at their other anchors, and the crop is chosen with it "
                       "(layout_scores holds every term)",
                "calm_scores": {n: round(best[n][0], 5) for n in pool},
            }
            skipped = list(dict.fromkeys(f[1] for f in found[:rank] if f[1] != name))
            if skipped:
                reason["skipped"] = skipped
            if len(varied) > 1:
                reason["close"] = varied
        else:
            reason = {"mode": "fixed", "chosen": name,
                      "why": "requested by name; placed (mirrored or with its blocks at "
                             "other anchors, where the layout allows) and cropped to keep "
                             "the subject clear"}
        reason["placement"] = arrangement.describe()
        reason["search"] = searched
        layout_scores = dict(scores)
        layout_scores[name] = {k: round(v, 4) for k, v in terms.items()} | {
            "total": round(total(terms), 4)}
        view = views.get(crop, grid_size(pic))[0]
        out.append(Choice(placed, crop, zoom, pic, terms, view, layout_scores, reason,
                          arrangement))
    return out


def choose_layout(background: Image.Image, fmt: Format, subject: Subject,
                  content: Mapping[str, str], names: Sequence[str] | None = None) -> Choice:
    """The best (layout, placement, crop) among ``names`` (all layouts: ``auto``):
    ``rank_layouts``' first."""
    return rank_layouts(background, fmt, subject, content, names)[0]
